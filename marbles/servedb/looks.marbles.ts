// When the serve database looks at serves.new, on virtual time: lookReasons() (the poll, the
// settle after file events, rescans) and the passes they start (coalescePasses with keepRescan),
// as serveDb.ts runs them.
import { type Observable, startWith } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { coalescePasses } from '../../src/servedb/coalesce';
import { keepRescan, lookReasons, type LookReason } from '../../src/servedb/watch';

const reasons: Record<string, LookReason> = { f: 'file', p: 'poll', r: 'rescan', s: 'start' };

let scheduler: TestScheduler;
beforeEach(() => {
  scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

describe('lookReasons', () => {
  it('polls every pollIntervalMs from subscription on', () => {
    scheduler.run(({ hot, expectObservable }) => {
      const look$ = lookReasons(hot<void>('-'), hot<LookReason>('-'), { pollIntervalMs: 4, settleMs: 0, scheduler });
      expectObservable(look$, '^ 13ms !').toBe('----p---p---p-', reasons);
    });
  });

  it('looks once a burst of file events has settled, not per event', () => {
    scheduler.run(({ hot, expectObservable }) => {
      const fileEvent$ = hot<void>('-a-a-a-------a-----', { a: undefined });
      const look$ = lookReasons(fileEvent$, hot<LookReason>('-'), { pollIntervalMs: 1000, settleMs: 3, scheduler });
      expectObservable(look$, '^ 18ms !').toBe('--------f-------f--', reasons);
    });
  });

  it('looks at once on a rescan, without waiting for the settle', () => {
    scheduler.run(({ hot, expectObservable }) => {
      const fileEvent$ = hot<void>('-a-------', { a: undefined });
      const rescan$ = hot<LookReason>('--r------', reasons);
      const look$ = lookReasons(fileEvent$, rescan$, { pollIntervalMs: 1000, settleMs: 3, scheduler });
      expectObservable(look$, '^ 8ms !').toBe('--r-f----', reasons);
    });
  });
});

describe('the passes looks start', () => {
  /** Each pass takes 3 frames and then says which reason it ran for. */
  const pass = (cold: (marbles: string, values: Record<string, LookReason>) => Observable<LookReason>) => (reason: LookReason) =>
    cold('---(x|)', { x: reason });

  it('starts with the start-up look, and runs one pass for a burst of looks during a pass', () => {
    scheduler.run(({ hot, cold, expectObservable }) => {
      const look$ = hot<LookReason>('-fp-------p-', reasons);
      expectObservable(look$.pipe(startWith<LookReason>('start'), coalescePasses(pass(cold), keepRescan))).toBe('---s--p------p', reasons);
    });
  });

  it('keeps a rescan waiting over a poll that comes after it: the SIGHUP gets its answer', () => {
    scheduler.run(({ hot, cold, expectObservable }) => {
      const look$ = hot<LookReason>('-rp---------', reasons);
      expectObservable(look$.pipe(startWith<LookReason>('start'), coalescePasses(pass(cold), keepRescan))).toBe('---s--r-----', reasons);
    });
  });
});
