// The whole sink on the virtual clock: records in, POSTs out, against a logplex stand-in that
// answers in virtual time (a PostTransport). Each diagram is when posts leave the sink: batching
// by flush interval, retries by backoff, L10 notices alone within a flush interval, the last
// notice after every other post, and when the sink completes. Posts are shown as
// `token:messages` (the stub formatter's frames; an L10 notice as `L10 <count> <kind>`).
import { ignoreElements, startWith } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Serve, ServeSet } from '../../src/servedb/serve';
import { logplexSink, type LogplexSinkConfig, type PostTransport } from '../../src/sink';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import { makeRecord, makeServe, stubFormatter } from '../../spec/sink/support';
import { virtualLogplex } from './virtualLogplex';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const BAD = makeServe('http://logplex.test/logs', { token: 't.bad' });
const GOOD = makeServe('http://logplex.test/logs', { token: 't.good' });

function sinkConfig(scheduler: TestScheduler, transport: PostTransport, more: Partial<LogplexSinkConfig> = {}): LogplexSinkConfig {
  return {
    format: stubFormatter,
    scheduler,
    transport,
    random: () => 0, // no jitter: retries at exactly 10, 20, 40 ms
    flushIntervalMs: 5,
    retry: { baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 3, maxAgeMs: 1000, jitter: 0 },
    ...more,
  };
}

const recordsOf = (serve: Serve): Record<string, SourcedRecord> => ({
  a: makeRecord(serve, 'a'),
  b: makeRecord(serve, 'b'),
  c: makeRecord(serve, 'c'),
});

describe('logplexSink on the virtual clock', () => {
  it('posts a body flushIntervalMs after its first record, flushes the rest when the input ends, then completes', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, () => 204);
      // a at 1 and b at 3 share a body that closes at 6; c at 8 is flushed by the end at 10;
      // the sink completes when that post is answered, at 11.
      const records = hot('-a-b----c-|', recordsOf(GOOD));
      expectObservable(posts).toBe('------x---y', { x: 't.good:a,b', y: 't.good:c' });
      expectObservable(logplexSink(records, sinkConfig(scheduler, transport)).pipe(ignoreElements())).toBe('-----------|');
    });
  });

  it('retries a failed post after the backoff, with the same body', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, (i) => (i < 2 ? 503 : 204));
      // Posted at 6, 503 at 7, again at 17 (10 ms), 503 at 18, again at 38 (20 ms), 204 at 39.
      const records = hot('-a--------------------------------------------|', recordsOf(GOOD));
      expectObservable(posts).toBe('------x----------x--------------------x', { x: 't.good:a' });
      expectObservable(logplexSink(records, sinkConfig(scheduler, transport)).pipe(ignoreElements())).toBe('----------------------------------------------|');
    });
  });

  it('announces a lost batch alone, one flush interval after the loss, when no record comes to carry it', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, (i) => (i === 0 ? 400 : 204));
      // a: posted at 6, refused for good at 7; its notice goes at 12; b, at 20, opens a body of its own.
      const records = hot('-a------------------b-----|', recordsOf(GOOD));
      expectObservable(posts).toBe('------x-----y------------z', { x: 't.good:a', y: 't.good:L10 1 lost', z: 't.good:b' });
      // b's post is answered at 26, as the input ends: the sink completes then.
      expectObservable(logplexSink(records, sinkConfig(scheduler, transport)).pipe(ignoreElements())).toBe('26ms |');
    });
  });

  it('sends the last notice after every other post has settled, with the token the serve set has now', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, (i) => (i === 0 ? 401 : 204));
      // a (token t.bad) is flushed by the end at 2 and refused at 3; the token was fixed at 1;
      // the notice of a's loss goes at once, as the lane's last post, with the fixed token.
      const records = hot('-a|', recordsOf(BAD));
      const serveSet$ = hot<ServeSet>('-g', { g: [GOOD] }).pipe(startWith<ServeSet>([BAD]));
      expectObservable(posts).toBe('--xy', { x: 't.bad:a', y: 't.good:L10 1 lost' });
      expectObservable(logplexSink(records, sinkConfig(scheduler, transport, { serveSet$ })).pipe(ignoreElements())).toBe('----|');
    });
  });

  it('holds a refused notice until the token changes, then sends it at the next flush interval', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const { transport, posts } = virtualLogplex(scheduler, (i) => (i < 2 ? 401 : 204));
      // a refused at 7; its notice at 12, refused at 13 (same token): not posted again until the
      // serve set changes the token at 30, and then at the next look, 33 (every 5 ms from 13).
      const records = hot('-a--------------------------------------------|', recordsOf(BAD));
      const serveSet$ = hot<ServeSet>('------------------------------g', { g: [GOOD] }).pipe(startWith<ServeSet>([BAD]));
      expectObservable(posts).toBe('------x-----y--------------------z', { x: 't.bad:a', y: 't.bad:L10 1 lost', z: 't.good:L10 1 lost' });
      expectObservable(logplexSink(records, sinkConfig(scheduler, transport, { serveSet$ })).pipe(ignoreElements())).toBe('46ms |');
    });
  });
});
