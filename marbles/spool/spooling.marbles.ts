// The spool's timing on the virtual clock: logplex fails → batches go to the spool → logplex is
// back → the spool drains oldest first, one post at a time → live batches go straight out again.
// The lane is composed as the sink composes it (sink/lane.ts and deliver.ts, with spooling.ts):
// toSpoolWhileBusy, then live posts that spill to the spool on their first failure;
// SpoolDrainers posts what is spooled.
import { catchError, concatMap, defer, ignoreElements, mergeMap, Observable, of, tap, throwError, timer, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Secret } from '../../src/secret';
import { PostError } from '../../src/sink/errors';
import { retryWithBackoff } from '../../src/sink/retryWithBackoff';
import { drainSpool, SpoolDrainers, toSpoolWhileBusy } from '../../src/spool/drain';
import type { SpooledBatch } from '../../src/spool/format';
import type { AppendOutcome } from '../../src/spool/store';
import { MemorySpool } from './memorySpool';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const unavailable = new PostError('LOGPLEX_HTTP_STATUS', 'logplex answered 503', { status: 503, transient: true });

const spooled = (name: string): SpooledBatch => ({
  serve: { socketPath: '/run/a.sock', identity: 'i', name: undefined, target: { url: 'http://127.0.0.1:1/', user: 'token', token: new Secret('t') } },
  body: Buffer.from(name),
  gzipped: true,
  frameCount: 1,
  logFrames: 1,
  dropCount: 0,
  lostCount: 0,
  createdAtMs: 0,
});

/** A logplex that answers 503 (after 1 ms) until `upAt`, then 200 (after 2 ms); posts are logged with their end time. */
function fakeLogplex(upAt: number, scheduler: SchedulerLike, delivered: [string, number][]) {
  return (name: string): Observable<void> =>
    defer(() =>
      scheduler.now() < upAt
        ? timer(1, scheduler).pipe(concatMap(() => throwError(() => unavailable)))
        : timer(2, scheduler).pipe(
            tap(() => delivered.push([name, scheduler.now()])),
            concatMap(() => of(undefined)),
          ),
    );
}

/** The lane: live posts that spill to the spool on a failure; refused ones retry in memory. */
function lane(batch$: Observable<string>, spool: MemorySpool, post: (name: string) => Observable<void>, drainers: SpoolDrainers, scheduler: SchedulerLike): Observable<never> {
  const retry = retryWithBackoff<void>(
    { baseDelayMs: 5, maxDelayMs: 5, maxAttempts: Number.POSITIVE_INFINITY, maxAgeMs: Number.POSITIVE_INFINITY, jitter: 0, maxRetryAfterMs: 0 },
    { isTransient: () => true, scheduler },
  );
  const spill = (name: string): Observable<AppendOutcome> => spool.append(spooled(name)).pipe(tap((o) => o === 'spooled' && drainers.kick(spool)));
  return batch$.pipe(
    toSpoolWhileBusy<string>({
      spool,
      overHighWater: () => false,
      toSpooled: (name) => of(spooled(name)),
      onOutcome: (_name, outcome) => outcome === 'spooled' && drainers.kick(spool),
    }),
    mergeMap(
      (name) =>
        post(name).pipe(
          catchError(() => spill(name).pipe(concatMap((o) => (o === 'spooled' ? of(undefined) : post(name).pipe(retry))))),
        ),
      4,
    ),
    ignoreElements(),
  );
}

describe('spooling (fail → spool → recover → drain)', () => {
  it('spools from the first failure, drains oldest first once logplex is back, then posts live again', () => {
    const delivered: [string, number][] = [];
    const liveTries: [string, number][] = [];
    const spool = new MemorySpool();
    const ts = newScheduler();
    ts.run(({ hot, expectObservable }) => {
      const post = fakeLogplex(20, ts, delivered);
      const drainers = new SpoolDrainers((batch) =>
        post(batch.body.toString()).pipe(
          retryWithBackoff<void>(
            { baseDelayMs: 5, maxDelayMs: 5, maxAttempts: Number.POSITIVE_INFINITY, maxAgeMs: Number.POSITIVE_INFINITY, jitter: 0, maxRetryAfterMs: 0 },
            { isTransient: () => true, scheduler: ts },
          ),
        ),
      );
      //                a fails at 2 and is spooled; b and c go behind it without a try.
      const batch$ = hot('-a-b-c 54ms d|');
      const livePost = (name: string): Observable<void> => defer(() => {
        liveTries.push([name, ts.now()]);
        return post(name);
      });
      expectObservable(lane(batch$, spool, livePost, drainers, ts)).toBe('-- 60ms |'); // d posted live: 60 → 62, then complete
    });
    // a is tried at 2, 8, 14 and 20 (5 ms apart after each 1 ms failure); 20 is after logplex is
    // back: a at 22, then b and c, one at a time; d, formed at 60 with the spool empty, live at 62.
    expect(delivered).toEqual([
      ['a', 22],
      ['b', 24],
      ['c', 26],
      ['d', 62],
    ]);
    expect(liveTries).toEqual([
      ['a', 1],
      ['d', 60],
    ]); // b and c waited behind the spool without a try of their own
    expect(spool.appended.map((b) => b.body.toString())).toEqual(['a', 'b', 'c']);
    expect(spool.acked.map((b) => b.body.toString())).toEqual(['a', 'b', 'c']);
    expect(spool.pending).toBe(0);
  });

  it('a batch the spool refuses (full) stays in memory and goes out when logplex is back', () => {
    const delivered: [string, number][] = [];
    const spool = new MemorySpool();
    spool.refuseWith = 'full';
    const ts = newScheduler();
    ts.run(({ hot, expectObservable }) => {
      const post = fakeLogplex(20, ts, delivered);
      const drainers = new SpoolDrainers(() => throwError(() => new Error('nothing was spooled')));
      expectObservable(lane(hot('-a-b|'), spool, post, drainers, ts)).toBe('-- 22ms |');
    });
    // a fails at 2, is refused, and is posted again from memory at once: fails at 3, 9, 15; the try
    // at 20 gets through at 22. b likewise, 2 ms behind. Nothing waited for a spool.
    expect(delivered).toEqual([
      ['a', 22],
      ['b', 24],
    ]);
    expect(spool.appended).toEqual([]);
  });

  it('toSpoolWhileBusy: passes empty, never and errors through, and spools past the high-water mark with an empty spool', () => {
    const spool = new MemorySpool();
    let high = false;
    const outcomes: string[] = [];
    const op = toSpoolWhileBusy<string>({
      spool,
      overHighWater: () => high,
      toSpooled: (name) => of(spooled(name)),
      onOutcome: (name, outcome) => outcomes.push(`${name}:${outcome}`),
    });
    newScheduler().run(({ cold, hot, expectObservable }) => {
      expectObservable(cold('|').pipe(op)).toBe('|');
      expectObservable(cold('-').pipe(op)).toBe('-');
      expectObservable(cold('-a-#').pipe(op)).toBe('-a-#');
      const input = hot('-a-b-c|');
      const watermark = hot('--x-y', { x: true, y: false });
      watermark.subscribe((v) => (high = v));
      // b comes while memory is past the mark: spooled; c comes after it fell back, but the spool
      // still holds b, so c goes behind it.
      expectObservable(input.pipe(op)).toBe('-a----|');
    });
    expect(outcomes).toEqual(['b:spooled', 'c:spooled']);
  });

  it('drainSpool: empty spool completes at once; unsubscribing leaves the batch in flight pending', () => {
    const spool = new MemorySpool();
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(drainSpool(spool, () => cold('-|'))).toBe('|');
    });
    spool.append(spooled('x')).subscribe();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const post = cold('-----|');
      expectObservable(drainSpool(spool, () => post), '^-!').toBe('--');
      expectSubscriptions(post.subscriptions).toBe('^-!');
    });
    expect(spool.acked).toEqual([]);
    expect(spool.pending).toBe(1);
  });
});
