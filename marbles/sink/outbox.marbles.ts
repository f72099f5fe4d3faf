// A serve's outbox (src/sink/outbox.ts) on the virtual clock, through the whole sink as the
// daemon runs it: one diagram per transition of its state, with the posts that cause it.
// States: s sending, b backing_off, p spooling, d draining, c closing, x closed.
// Each record is a batch of its own (maxBatchFrames 1): a record at t is posted at t, answered at t+1.
import { gzipSync } from 'node:zlib';
import { ignoreElements, of, Subject, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { logplexSink, nextState, type LogplexSinkConfig, type OutboxState, type PostTransport, type SinkSpool, type SinkStats } from '../../src/sink';
import type { SpooledBatch } from '../../src/spool/format';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import type { ServeSpool, SpoolCounts } from '../../src/spool/store';
import { makeRecord, makeServe, stubFormatter, stubFrames } from '../../spec/sink/support';
import { MemorySpool } from '../spool/memorySpool';
import { virtualLogplex } from './virtualLogplex';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const SERVE = makeServe('http://logplex.test/logs', { token: 't.good', socketPath: '/run/a.sock' });
const STATES: Record<string, OutboxState> = { s: 'sending', b: 'backing_off', p: 'spooling', d: 'draining', c: 'closing', x: 'closed' };
const POSTS: Record<string, string> = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'y', 'z'].map((k) => [k, `t.good:${k}`]));
const records: Record<string, SourcedRecord> = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k) => [k, makeRecord(SERVE, k)]));

/** A spool store in memory: one MemorySpool per serve, `left` as what an earlier run left. */
class MemoryStore implements SinkSpool {
  readonly options = { highWaterBytes: Number.POSITIVE_INFINITY };
  readonly spools = new Map<string, MemorySpool>();
  constructor(private readonly left: MemorySpool[] = []) {
    for (const spool of left) this.spools.set(spool.socketPath, spool);
  }
  serve(socketPath: string): MemorySpool {
    let spool = this.spools.get(socketPath);
    if (spool === undefined) {
      spool = new MemorySpool(socketPath);
      this.spools.set(socketPath, spool);
    }
    return spool;
  }
  recovered(): readonly ServeSpool[] {
    return this.left;
  }
  countsOf(socketPath: string): SpoolCounts | undefined {
    return this.spools.get(socketPath)?.counts();
  }
  totals(): SpoolCounts {
    let batches = 0;
    for (const spool of this.spools.values()) batches += spool.pending;
    return { bytes: 0, batches, oldestMs: undefined };
  }
}

function sinkConfig(scheduler: TestScheduler, transport: PostTransport, states: Subject<OutboxState>, more: Partial<LogplexSinkConfig> = {}): LogplexSinkConfig {
  return {
    format: stubFormatter,
    scheduler,
    transport,
    random: () => 0, // no jitter: retries at exactly 10, 20, 40 ms
    deflate: (body) => of(gzipSync(body, { level: 1 })), // on the virtual clock
    flushIntervalMs: 5,
    maxBatchFrames: 1,
    retry: { baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 3, maxAgeMs: 1000, jitter: 0 },
    outboxState: (_socketPath, state) => states.next(state),
    ...more,
  };
}

describe('the outbox state table', () => {
  it('lists every move; an event a state does not list leaves it as it is', () => {
    expect(nextState('sending', 'post_failed')).toBe('backing_off');
    expect(nextState('backing_off', 'post_ok')).toBe('sending');
    expect(nextState('spooling', 'post_ok')).toBe('spooling'); // memory posts beside the spool say nothing of it
    expect(nextState('closing', 'spooled')).toBe('closing');
    expect(nextState('closed', 'close')).toBe('closed');
  });
});

describe('the outbox on the virtual clock', () => {
  it('sending → backing_off → sending (no spool), then closing → closed', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, (i) => (i === 0 ? 503 : 204));
      const states = new Subject<OutboxState>();
      // a posted at 1, 503 at 2: backing off; tried again at 12 (10 ms), 204 at 13: sending.
      // The input ends at 20: closing, and with nothing held, closed at once.
      const input = hot('-a 18ms |', records);
      expectObservable(posts).toBe('-x 10ms x', { x: 't.good:a' });
      expectObservable(states).toBe('--b 10ms s 6ms (cx)', STATES);
      expectObservable(logplexSink(input, sinkConfig(scheduler, transport, states)).pipe(ignoreElements())).toBe('20ms |');
    });
  });

  it('sending → spooling → draining → sending: a failure spools, live batches queue behind it, the drain empties it', () => {
    const scheduler = newScheduler();
    const store = new MemoryStore();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, () => (scheduler.now() < 20 ? 503 : 204));
      const states = new Subject<OutboxState>();
      // a fails at 2 and is spooled (spooling); b and c go behind it without a try. The drain
      // tries a again after the backoff its failure announced (10 ms: 12), then 20 ms later (33):
      // 204 at 34 (draining); b at 34, c at 35, and the spool is empty at 36 (sending). d, formed
      // at 60, goes out live.
      const input = hot('-a-b-c 54ms d|', records);
      expectObservable(posts).toBe('-a 10ms a 20ms abc 24ms d', POSTS);
      expectObservable(states).toBe('--p 31ms d-s 24ms (cx)', STATES);
      expectObservable(logplexSink(input, sinkConfig(scheduler, transport, states, { spool: store })).pipe(ignoreElements())).toBe('61ms |');
    });
    const spool = store.spools.get('/run/a.sock')!;
    expect(spool.appended.map((b) => b.frameCount)).toEqual([1, 1, 1]);
    expect(spool.acked).toHaveLength(3);
    expect(spool.pending).toBe(0);
  });

  it('draining → spooling when a drain post fails, and draining → sending when the spool is empty', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, (i) => (i === 0 || i === 2 ? 503 : 204));
      const states = new Subject<OutboxState>();
      // a spooled at 2; the drain delivers it at 12 → 13 (draining); b, behind it, fails at 14
      // (spooling), is tried again 10 ms later and delivered at 25: the spool is empty (sending).
      const input = hot('-a-b 36ms |', records);
      expectObservable(posts).toBe('-a 10ms ab 10ms b', POSTS);
      expectObservable(states).toBe('--p 10ms dp 10ms (ds) 11ms (cx)', STATES);
      expectObservable(logplexSink(input, sinkConfig(scheduler, transport, states, { spool: new MemoryStore() })).pipe(ignoreElements())).toBe('40ms |');
    });
  });

  it('spooling → sending when the drain gives a refused batch up: counted lost and refused, and acked', () => {
    const scheduler = newScheduler();
    const store = new MemoryStore();
    let last: SinkStats | undefined;
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, (i) => (i === 0 ? 503 : 401));
      const states = new Subject<OutboxState>();
      const input = hot('-a 18ms |', records);
      expectObservable(posts).toBe('-a 10ms a', POSTS);
      expectObservable(states).toBe('--p 10ms s 6ms (cx)', STATES);
      const sink = logplexSink(input, sinkConfig(scheduler, transport, states, { spool: store }));
      expectObservable(sink.pipe(tap((st) => (last = st)), ignoreElements())).toBe('20ms |');
    });
    expect(last).toMatchObject({ lost: 1, refused: 1, requestsFailed: 1, spoolBatches: 0 });
    expect(store.spools.get('/run/a.sock')!.acked).toHaveLength(1); // refused for good: not posted again after a restart
  });

  it('backing_off → spooling: while the spool refuses, batches retry from memory; once it takes them, a failure spools', () => {
    const scheduler = newScheduler();
    const store = new MemoryStore();
    const spool = store.serve('/run/a.sock');
    spool.refuseWith = 'full';
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, () => (scheduler.now() < 30 ? 503 : 204));
      const states = new Subject<OutboxState>();
      hot('15ms x').subscribe(() => (spool.refuseWith = undefined)); // room again
      // a fails at 2, the spool refuses it: backing off, retried from memory at 12 and 33. b, at
      // 20, fails at 21 and is spooled (spooling); the drain delivers it at 31 → 32, and the
      // spool is empty (sending). a's third try is delivered at 34.
      const input = hot('-a 18ms b 19ms |', records);
      expectObservable(posts).toBe('-a 10ms a 7ms b 10ms b-a', POSTS);
      expectObservable(states).toBe('--b 18ms p 10ms (ds) 4ms (cx)', STATES);
      expectObservable(logplexSink(input, sinkConfig(scheduler, transport, states, { spool: store })).pipe(ignoreElements())).toBe('40ms |');
    });
    expect(spool.appended).toHaveLength(1);
  });

  it('sending → draining for what an earlier run left; with nothing else held the outbox then retires', () => {
    const scheduler = newScheduler();
    const left = new MemorySpool('/run/a.sock');
    left.append(spooledRecord('z')).subscribe();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, () => 204);
      const states = new Subject<OutboxState>();
      expectObservable(posts).toBe('z', POSTS);
      expectObservable(states).toBe('-(dscx)', STATES);
      expectObservable(logplexSink(hot('-----|'), sinkConfig(scheduler, transport, states, { spool: new MemoryStore([left]) })).pipe(ignoreElements())).toBe('5ms |');
    });
    expect(left.acked).toHaveLength(1);
  });

  it('closing during a drain post lets that post finish and acks it, and takes no further batch', () => {
    const scheduler = newScheduler();
    const left = new MemorySpool('/run/a.sock');
    left.append(spooledRecord('y')).subscribe();
    left.append(spooledRecord('z')).subscribe();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, () => 204);
      const states = new Subject<OutboxState>();
      // y is in flight when the input ends at 0: answered at 1, acked; z waits for the next start.
      expectObservable(posts).toBe('y', POSTS);
      expectObservable(states).toBe('cx', STATES);
      expectObservable(logplexSink(hot('|'), sinkConfig(scheduler, transport, states, { spool: new MemoryStore([left]) })).pipe(ignoreElements())).toBe('-|');
    });
    expect(left.acked.map((b) => b.frameCount)).toEqual([1]);
    expect(left.pending).toBe(1);
  });

  it('closing while the drain waits between tries ends it at once, the batch left on disk', () => {
    const scheduler = newScheduler();
    const left = new MemorySpool('/run/a.sock');
    left.append(spooledRecord('z')).subscribe();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, () => 503);
      const states = new Subject<OutboxState>();
      expectObservable(posts).toBe('z', POSTS);
      expectObservable(states).toBe('-p---(cx)', STATES);
      expectObservable(logplexSink(hot('-----|'), sinkConfig(scheduler, transport, states, { spool: new MemoryStore([left]) })).pipe(ignoreElements())).toBe('5ms |');
    });
    expect(left.acked).toEqual([]);
    expect(left.pending).toBe(1);
  });
});

/** A batch of one record as an earlier run spooled it. */
function spooledRecord(text: string): SpooledBatch {
  return { serve: SERVE, body: stubFrames(makeRecord(SERVE, text)).bytes, gzipped: false, frameCount: 1, logFrames: 1, dropCount: 0, lostCount: 0, createdAtMs: 0 };
}
