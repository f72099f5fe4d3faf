// One batch to logplex: prepared once (post.ts), tried as the retry policy says
// (retryWithBackoff.ts), and settled on the serve's accounts whatever happens.
import { catchError, defer, EMPTY, finalize, from, ignoreElements, mergeMap, Observable, of, tap, throwError, type SchedulerLike } from '../rx';
import type { EventSink } from '../events';
import type { AppendOutcome } from '../spool/store';
import type { Batch } from './batch';
import type { BodyPool } from './bodyPool';
import { PostError, RetryGiveUpError } from './errors';
import type { BatchLostEvent, PostFailedEvent, SinkEvent } from './events';
import { serveFields, type LaneAccounts } from './laneAccounts';
import type { RetryPolicy, SinkOptions } from './options';
import { needsGzip, preparePost, preparePostNow, type OutgoingBatch, type PostResult, type PostTransport, type PreparedPost } from './post';
import { retryWithBackoff, type AttemptFailure } from './retryWithBackoff';

export interface DeliveryContext {
  readonly options: SinkOptions;
  readonly client: PostTransport;
  readonly bodies: BodyPool;
  readonly emit: EventSink<SinkEvent>;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
}

/** What a lane learns from its posts. */
export interface Health {
  failing: boolean; // the serve's last settled attempt failed: its lane holds what queues gzipped
  readonly settled: (batch: Batch, delivered: boolean) => void; // after the accounts are settled
}

/**
 * With a spool (spooling.ts): a batch whose first try failed transiently is offered to it, and
 * when taken, its post ends there (the spool's drainer posts it); refused, it is retried here.
 */
export type Spill = (batch: Batch) => Observable<AppendOutcome>;

/** Post one batch with retries; settle its accounts whatever happens. */
export function deliver(batch: Batch, ctx: DeliveryContext, accounts: LaneAccounts, health: Health, spill?: Spill): Observable<never> {
  const { client, emit } = ctx;
  accounts.named(batch.serve);
  const onFailure = (f: AttemptFailure): void => {
    health.failing = true;
    if (f.willRetry) accounts.retried();
    emit(postFailedEvent(batch, f));
  };

  let delivered = false;
  let spooled = false; // handed to the spool after its first try failed: its drainer posts it
  /** The first try; with a spool, a transient failure of it goes there instead of to the retries. */
  const firstTry = (prepared: PreparedPost): Observable<PostResult> => {
    const once = attempt$(client, prepared);
    if (spill === undefined) return once;
    return once.pipe(
      catchError((err: unknown) => {
        if (!(err instanceof PostError && err.transient)) return throwError(() => err);
        health.failing = true;
        return spill(batch).pipe(
          mergeMap((outcome) => {
            if (outcome !== 'spooled') return throwError(() => err); // refused: retried from memory as without a spool
            spooled = true;
            accounts.retried();
            emit(postFailedEvent(batch, { error: err, attempt: 1, willRetry: true, delayMs: undefined })); // retried from the spool
            return EMPTY;
          }),
        );
      }),
    );
  };
  return postWithRetries(batch, ctx, ctx.options.retry, onFailure, firstTry).pipe(
    tap((result) => {
      delivered = true;
      health.failing = false;
      accounts.delivered(batch, result.bytes);
    }),
    ignoreElements(),
    catchError((err: unknown) => {
      const frames = accounts.lost(batch);
      // A notice batch loses nothing: its counts wait for the next batch (post_failed said why).
      if (batch.kind === 'notice') return EMPTY;
      emit(batchLostEvent(batch, frames, err));
      return EMPTY;
    }),
    finalize(() => {
      if (delivered) ctx.bodies.give(batch.body); // answered 2xx: the server read all of it
      accounts.settled(batch);
      health.settled(batch, delivered || spooled);
    }),
  );
}

/**
 * A batch prepared once and tried as `policy` says: emits the successful answer, or errors with
 * the RetryGiveUpError (or the preparation's error). `firstTry` replaces the first attempt.
 * What a lane's deliveries and a spool's drainer (spooling.ts) share.
 */
export function postWithRetries(
  batch: OutgoingBatch,
  ctx: DeliveryContext,
  policy: RetryPolicy,
  onFailure: (f: AttemptFailure) => void,
  firstTry?: (prepared: PreparedPost) => Observable<PostResult>,
): Observable<PostResult> {
  const { options } = ctx;
  let tries = 0;
  // Prepared at once unless it must be deflated first: no promise per post, and on a virtual
  // clock (the sink's marble test) the whole post runs in virtual time.
  const prepared$ = defer(() => (needsGzip(batch, options) ? from(preparePost(batch, options)) : of(preparePostNow(batch, options))));
  return prepared$.pipe(
    mergeMap((prepared) =>
      defer(() => (tries++ === 0 && firstTry !== undefined ? firstTry(prepared) : attempt$(ctx.client, prepared))).pipe(
        retryWithBackoff<PostResult>(policy, {
          isTransient: (e) => e instanceof PostError && e.transient,
          hintOf: (e) => (e instanceof PostError ? e.retryAfterMs : undefined),
          random: ctx.random,
          scheduler: ctx.scheduler,
          onFailure,
        }),
      ),
    ),
  );
}

/** The log line for a failed attempt. */
export function postFailedEvent(batch: OutgoingBatch, f: AttemptFailure): PostFailedEvent {
  const err = f.error;
  return {
    kind: 'post_failed',
    level: f.willRetry ? 'warn' : 'error',
    ...serveFields(batch.serve),
    code: err instanceof PostError ? err.code : 'UNKNOWN',
    status: err instanceof PostError ? err.status : undefined,
    cause: err instanceof PostError ? err.causeCode : undefined,
    attempt: f.attempt,
    will_retry: f.willRetry,
    retry_in_ms: f.delayMs,
    frames: batch.frameCount,
  };
}

/** The log line for a batch given up (`err`: what postWithRetries ended with). */
export function batchLostEvent(batch: OutgoingBatch, logFrames: number, err: unknown): BatchLostEvent {
  const giveUp = err instanceof RetryGiveUpError ? err : undefined;
  const last = giveUp?.lastError ?? err;
  return {
    kind: 'batch_lost',
    level: 'error',
    ...serveFields(batch.serve),
    frames: logFrames,
    reason: giveUp?.reason ?? 'prepare_failed',
    code: last instanceof PostError ? last.code : 'UNKNOWN',
    status: last instanceof PostError ? last.status : undefined,
    attempts: giveUp?.attempts ?? 0,
  };
}

/** One try as an observable: unsubscribing (abort, shutdown) aborts the request. */
export function attempt$(client: PostTransport, prepared: PreparedPost): Observable<PostResult> {
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
