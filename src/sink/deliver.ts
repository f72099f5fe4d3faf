// One batch to logplex: prepared once (post.ts), tried as the retry policy says
// (retryWithBackoff.ts), and settled on the serve's accounts whatever happens.
import { catchError, defer, EMPTY, finalize, from, ignoreElements, mergeMap, Observable, tap, type SchedulerLike } from 'rxjs';
import type { EventSink } from '../events';
import type { Batch } from './batch';
import type { BodyPool } from './bodyPool';
import { PostError, RetryGiveUpError } from './errors';
import type { SinkEvent } from './events';
import { serveFields, type LaneAccounts } from './laneAccounts';
import type { SinkOptions } from './options';
import { preparePost, type LogplexClient, type PostResult, type PreparedPost } from './post';
import { retryWithBackoff, type AttemptFailure } from './retryWithBackoff';

export interface DeliveryContext {
  readonly options: SinkOptions;
  readonly client: LogplexClient;
  readonly bodies: BodyPool;
  readonly emit: EventSink<SinkEvent>;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
}

/** Whether a serve's last settled attempt failed (then its lane holds what queues gzipped). */
export interface Health {
  failing: boolean;
}

/** Post one batch with retries; settle its accounts whatever happens. */
export function deliver(batch: Batch, ctx: DeliveryContext, accounts: LaneAccounts, health: Health): Observable<never> {
  const { options, client, emit, scheduler } = ctx;
  accounts.named(batch.serve);
  const onFailure = (f: AttemptFailure): void => {
    const err = f.error;
    health.failing = true;
    if (f.willRetry) accounts.retried();
    emit({
      kind: 'post_failed',
      level: f.willRetry ? 'warn' : 'error',
      ...serveFields(batch.serve),
      code: err instanceof PostError ? err.code : 'UNKNOWN',
      status: err instanceof PostError ? err.status : undefined,
      cause: err instanceof PostError ? err.causeCode : undefined,
      attempt: f.attempt,
      willRetry: f.willRetry,
      retryInMs: f.delayMs,
      frames: batch.frameCount,
    });
  };

  let delivered = false;
  return defer(() => from(preparePost(batch, options))).pipe(
    mergeMap((prepared) =>
      attempt$(client, prepared).pipe(
        retryWithBackoff<PostResult>(options.retry, {
          isTransient: (e) => e instanceof PostError && e.transient,
          hintOf: (e) => (e instanceof PostError ? e.retryAfterMs : undefined),
          random: ctx.random,
          scheduler,
          onFailure,
        }),
      ),
    ),
    tap((result) => {
      delivered = true;
      health.failing = false;
      accounts.delivered(batch, result.bytes);
    }),
    ignoreElements(),
    catchError((err: unknown) => {
      accounts.lost(batch);
      const giveUp = err instanceof RetryGiveUpError ? err : undefined;
      const last = giveUp?.lastError ?? err;
      emit({
        kind: 'batch_lost',
        level: 'error',
        ...serveFields(batch.serve),
        frames: batch.logFrames,
        reason: giveUp?.reason ?? 'prepare_failed',
        code: last instanceof PostError ? last.code : 'UNKNOWN',
        status: last instanceof PostError ? last.status : undefined,
        attempts: giveUp?.attempts ?? 0,
      });
      return EMPTY;
    }),
    finalize(() => {
      if (delivered) ctx.bodies.give(batch.body); // answered 2xx: the server read all of it
      accounts.settled(batch);
    }),
  );
}

/** One try as an observable: unsubscribing (abort, shutdown) aborts the request. */
function attempt$(client: LogplexClient, prepared: PreparedPost): Observable<PostResult> {
  return new Observable<PostResult>((subscriber) => {
    const abort = new AbortController();
    let settled = false;
    client.send(prepared, abort.signal).then(
      (result) => {
        settled = true;
        subscriber.next(result);
        subscriber.complete();
      },
      (err: unknown) => {
        settled = true;
        subscriber.error(err);
      },
    );
    // Only a request still running needs aborting: abort() builds a DOMException with a stack
    // trace, which on every settled post cost about 1% of the daemon's CPU.
    return () => {
      if (!settled) abort.abort();
    };
  });
}
