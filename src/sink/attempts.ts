// How one batch is tried against logplex: prepared once (post.ts), tried as a retry policy says
// (retryWithBackoff.ts), each try an observable that aborts its request when unsubscribed; and
// the log lines its failures make. What happens to the batch between tries, and after the last,
// is its outbox's decision (outbox.ts).
import { defer, from, mergeMap, Observable, of, type SchedulerLike } from '../rx';
import type { EventSink } from '../events';
import type { BodyPool } from './bodyPool';
import { PostError, RetryGiveUpError } from './errors';
import type { BatchLostEvent, PostFailedEvent, SinkEvent } from './events';
import type { RetryPolicy, SinkOptions } from './options';
import { needsGzip, preparePost, preparePostNow, type OutgoingBatch, type PostResult, type PostTransport, type PreparedPost } from './post';
import { retryWithBackoff, type AttemptFailure } from './retryWithBackoff';
import type { Serve } from '../servedb/serve';

/** What posting needs from the sink: its options, HTTP client, clock and jitter. */
export interface PostingContext {
  readonly options: SinkOptions;
  readonly client: PostTransport;
  readonly bodies: BodyPool;
  readonly emit: EventSink<SinkEvent>;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
}

/** How the tries of one batch are made and told about. */
export interface TryHooks {
  readonly onFailure: (f: AttemptFailure) => void;
  /** One try of the prepared post; attempt$ when absent. `tryIndex` is 0 for the first try here. */
  readonly attempt?: (prepared: PreparedPost, tryIndex: number) => Observable<PostResult>;
  /** Retry this error? A PostError's own `transient` when absent. */
  readonly isTransient?: (error: unknown) => boolean;
  /** Tries this batch already had elsewhere: the numbering and the backoff continue from them. */
  readonly triesBefore?: number;
}

export const isTransientPostError = (e: unknown): boolean => e instanceof PostError && e.transient;

/**
 * A batch prepared once and tried as `policy` says: emits the successful answer, or errors with
 * the RetryGiveUpError (or the preparation's error).
 */
export function postWithRetries(batch: OutgoingBatch, ctx: PostingContext, policy: RetryPolicy, hooks: TryHooks): Observable<PostResult> {
  const { options } = ctx;
  let tries = 0;
  // Prepared at once unless it must be deflated first: no promise per post, and on a virtual
  // clock (the sink's marble test) the whole post runs in virtual time.
  const prepared$ = defer(() => (needsGzip(batch, options) ? from(preparePost(batch, options)) : of(preparePostNow(batch, options))));
  const attempt = hooks.attempt ?? ((prepared: PreparedPost) => attempt$(ctx.client, prepared));
  return prepared$.pipe(
    mergeMap((prepared) =>
      defer(() => attempt(prepared, tries++)).pipe(
        retryWithBackoff<PostResult>(policy, {
          isTransient: hooks.isTransient ?? isTransientPostError,
          hintOf: (e) => (e instanceof PostError ? e.retryAfterMs : undefined),
          random: ctx.random,
          scheduler: ctx.scheduler,
          onFailure: hooks.onFailure,
          triesBefore: hooks.triesBefore,
        }),
      ),
    ),
  );
}

export const serveFields = (serve: Serve) => ({ serve: serve.name, socket: serve.socketPath });

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
    let answered = false;
    client.send(prepared, abort.signal).then(
      (result) => {
        answered = true;
        subscriber.next(result);
        subscriber.complete();
      },
      (err: unknown) => {
        answered = true;
        subscriber.error(err);
      },
    );
    // Only a request still running needs aborting: abort() builds a DOMException with a stack
    // trace, which on every settled post cost about 1% of the daemon's CPU.
    return () => {
      if (!answered) abort.abort();
    };
  });
}
