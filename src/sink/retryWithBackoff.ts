// Retry policy for one body: exponential backoff with jitter over observable timers, so the whole
// schedule runs on a TestScheduler's virtual clock. Only errors the classifier calls transient are
// retried; the run ends with a RetryGiveUpError that says why (permanent error, attempts, age).
import { asyncScheduler, defer, retry, throwError, timer, type MonoTypeOperatorFunction, type SchedulerLike } from '../rx';
import { RetryGiveUpError } from './errors';
import type { RetryPolicy } from './options';

/** Told about every failed attempt, before the retry (or the give-up) happens. */
export interface AttemptFailure {
  readonly error: unknown;
  readonly attempt: number; // 1 for the first try
  readonly willRetry: boolean;
  readonly delayMs: number | undefined; // wait before the next try when willRetry
}

export interface RetryOptions {
  readonly isTransient: (error: unknown) => boolean;
  readonly random?: () => number; // [0, 1); Math.random by default, fixed in marbles
  readonly scheduler?: SchedulerLike;
  readonly onFailure?: (failure: AttemptFailure) => void;
  /** How long the server asked us to wait after this error (Retry-After), if it did. */
  readonly hintOf?: (error: unknown) => number | undefined;
  /** Tries already made elsewhere (a batch that failed once before it was spooled): attempts are numbered, and backed off, from there. */
  readonly triesBefore?: number;
}

/**
 * Delay before retry number `retry` (1-based): base·2^(retry-1) capped at maxDelay, of which the
 * `jitter` share is random, i.e. uniform in [d·(1-jitter), d).
 */
export function backoffDelay(retryNumber: number, policy: RetryPolicy, random: () => number): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retryNumber - 1));
  return Math.round(exponential * (1 - policy.jitter * random()));
}

export function retryWithBackoff<T>(policy: RetryPolicy, options: RetryOptions): MonoTypeOperatorFunction<T> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const random = options.random ?? Math.random;
  return (source) =>
    // defer: the age limit counts from each subscription (each body), not from operator creation.
    defer(() => {
      const startedAt = scheduler.now();
      return source.pipe(
        retry({
          delay: (error: unknown, retryNumber: number) => {
            const attempt = retryNumber + (options.triesBefore ?? 0); // the attempt that just failed
            const giveUp = (reason: RetryGiveUpError['reason']) => {
              options.onFailure?.({ error, attempt, willRetry: false, delayMs: undefined });
              return throwError(() => new RetryGiveUpError(reason, attempt, error));
            };
            if (!options.isTransient(error)) return giveUp('permanent');
            if (attempt >= policy.maxAttempts) return giveUp('max_attempts');
            // The server's hint lengthens a wait (never shortens it), up to maxRetryAfterMs.
            const hint = options.hintOf?.(error);
            const backoff = backoffDelay(attempt, policy, random);
            const delayMs = hint === undefined ? backoff : Math.max(backoff, Math.min(hint, policy.maxRetryAfterMs));
            // Not worth waiting for a try that the age limit would forbid anyway.
            if (scheduler.now() + delayMs - startedAt > policy.maxAgeMs) return giveUp('max_age');
            options.onFailure?.({ error, attempt, willRetry: true, delayMs });
            return timer(delayMs, scheduler);
          },
        }),
      );
    });
}
