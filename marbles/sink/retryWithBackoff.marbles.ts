// The retry schedule on the virtual clock, with jitter made deterministic by an injected random.
import { catchError, defer, of, switchMap, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { PostError, RetryGiveUpError } from '../../src/sink/errors';
import type { RetryPolicy } from '../../src/sink/options';
import { backoffDelay, retryWithBackoff, type AttemptFailure } from '../../src/sink/retryWithBackoff';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const policy: RetryPolicy = { baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 5, maxAgeMs: 1000, jitter: 0.5, maxRetryAfterMs: 100 };
const unavailable = new PostError('LOGPLEX_HTTP_STATUS', 'logplex answered 503', { status: 503, transient: true });
const badRequest = new PostError('LOGPLEX_HTTP_STATUS', 'logplex answered 400', { status: 400, transient: false });
const isTransient = (e: unknown): boolean => e instanceof PostError && e.transient;
const noJitter = (): number => 0; // jitter removes random()*jitter of each delay: 0 keeps the full delay

describe('retryWithBackoff', () => {
  it('doubles the delay from baseDelayMs up to maxDelayMs, then gives up after maxAttempts', () => {
    const failures: AttemptFailure[] = [];
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // Each try fails 2 ms in; waits 10, 20, 40, 40 (capped); the fifth failure is final.
      const post = cold('--#', undefined, unavailable);
      const result = post.pipe(retryWithBackoff(policy, { isTransient, random: noJitter, onFailure: (f) => failures.push(f) }));
      expectObservable(result).toBe('120ms #', undefined, new RetryGiveUpError('max_attempts', 5, unavailable));
      expectSubscriptions(post.subscriptions).toBe(['^-!', '12ms ^-!', '34ms ^-!', '76ms ^-!', '118ms ^-!']);
    });
    // The run has flushed: every failure was reported, the last as final.
    expect(failures.map((f) => [f.attempt, f.willRetry, f.delayMs])).toEqual([
      [1, true, 10],
      [2, true, 20],
      [3, true, 40],
      [4, true, 40],
      [5, false, undefined],
    ]);
  });

  it('takes jitter off each delay with the injected random', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // random 0.5 with jitter 0.5: each delay is 75% of the exponential one: 8 (7.5 rounded), 15, 30, 30.
      const post = cold('--#', undefined, unavailable);
      const result = post.pipe(retryWithBackoff(policy, { isTransient, random: () => 0.5 }));
      expectObservable(result).toBe('93ms #', undefined, new RetryGiveUpError('max_attempts', 5, unavailable));
      expectSubscriptions(post.subscriptions).toBe(['^-!', '10ms ^-!', '27ms ^-!', '59ms ^-!', '91ms ^-!']);
    });
  });

  it('waits as long as the server asked (Retry-After), never shorter than the backoff, at most maxRetryAfterMs', () => {
    const failures: AttemptFailure[] = [];
    newScheduler().run(({ cold, expectObservable }) => {
      // Hints per failed try: 30 (longer than the 10 backoff: 30), 1 (shorter than 20: 20),
      // 500 (cut to maxRetryAfterMs 100), none (backoff 40); the fifth failure is final.
      const hints = [30, 1, 500, undefined];
      let tries = 0;
      const post = defer(() => {
        const retryAfterMs = hints[tries++];
        return cold('--#', undefined, new PostError('LOGPLEX_HTTP_STATUS', 'logplex answered 503', { status: 503, transient: true, retryAfterMs }));
      });
      const hintOf = (e: unknown): number | undefined => (e instanceof PostError ? e.retryAfterMs : undefined);
      const result = post.pipe(retryWithBackoff(policy, { isTransient, random: noJitter, hintOf, onFailure: (f) => failures.push(f) }));
      expectObservable(result.pipe(catchError(() => of('x')))).toBe('200ms (x|)');
    });
    expect(failures.map((f) => f.delayMs)).toEqual([30, 20, 100, 40, undefined]);
  });

  it('passes the value through once a retry succeeds', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      let tries = 0;
      const post = defer(() => (tries++ < 2 ? cold('--#', undefined, unavailable) : cold('--a|')));
      expectObservable(post.pipe(retryWithBackoff(policy, { isTransient, random: noJitter }))).toBe('36ms a|');
    });
  });

  it('does not retry a permanent error', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const post = cold('--#', undefined, badRequest);
      expectObservable(post.pipe(retryWithBackoff(policy, { isTransient, random: noJitter }))).toBe(
        '--#',
        undefined,
        new RetryGiveUpError('permanent', 1, badRequest),
      );
      expectSubscriptions(post.subscriptions).toBe('^-!');
    });
  });

  it('gives up when the next try would start later than maxAgeMs after the first', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // Failures at 2 and 14; a retry at 14+20 = 34 would be past the 30 ms age limit.
      const post = cold('--#', undefined, unavailable);
      const result = post.pipe(retryWithBackoff({ ...policy, maxAgeMs: 30 }, { isTransient, random: noJitter }));
      expectObservable(result).toBe('14ms #', undefined, new RetryGiveUpError('max_age', 2, unavailable));
      expectSubscriptions(post.subscriptions).toBe(['^-!', '12ms ^-!']);
    });
  });

  it('counts age from each subscription, so a later body gets its own budget', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const post = cold('--#', undefined, unavailable);
      const retried = post.pipe(retryWithBackoff({ ...policy, maxAgeMs: 30 }, { isTransient, random: noJitter }));
      // Subscribed at 100: gives up at 114 after 2 tries, exactly like a body subscribed at 0.
      const later = timer(100).pipe(switchMap(() => retried));
      expectObservable(later).toBe('114ms #', undefined, new RetryGiveUpError('max_age', 2, unavailable));
    });
  });

  // rxjs's checklist for every operator: empty, never, error (above), unsubscribe.
  it('completes with an empty source, and stays silent with one that never emits', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const empty = cold('---|');
      expectObservable(empty.pipe(retryWithBackoff(policy, { isTransient, random: noJitter }))).toBe('---|');
      expectSubscriptions(empty.subscriptions).toBe('^--!');
      const never = cold('-');
      expectObservable(never.pipe(retryWithBackoff(policy, { isTransient, random: noJitter })), '^ 500ms !').toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^ 500ms !');
    });
  });

  it('unsubscribed while waiting to retry, tries no more and reports nothing more', () => {
    const failures: AttemptFailure[] = [];
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // Fails at 2, would retry at 12; unsubscribed at 6, in the wait.
      const post = cold('--#', undefined, unavailable);
      const result = post.pipe(retryWithBackoff(policy, { isTransient, random: noJitter, onFailure: (f) => failures.push(f) }));
      expectObservable(result, '^-----!').toBe('-');
      expectSubscriptions(post.subscriptions).toBe('^-!');
    });
    expect(failures.map((f) => f.attempt)).toEqual([1]);
  });

  it('unsubscribed during a try, ends that try', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const post = cold('-----a|');
      expectObservable(post.pipe(retryWithBackoff(policy, { isTransient, random: noJitter })), '^--!').toBe('-');
      expectSubscriptions(post.subscriptions).toBe('^--!');
    });
  });
});

describe('backoffDelay', () => {
  it('stays within [d·(1-jitter), d] of the capped exponential delay', () => {
    for (let retry = 1; retry <= 12; retry += 1) {
      const d = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
      expect(backoffDelay(retry, policy, () => 0)).toBe(d);
      expect(backoffDelay(retry, policy, () => 0.999999)).toBeGreaterThanOrEqual(Math.floor(d * 0.5));
    }
  });
});
