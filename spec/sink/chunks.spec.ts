// The sink fed as the source feeds it: a chunk per read, many serves. A chunk's records go into
// their serve's body in order and split only where the caps say; every lane's timers are
// deadlines on two queues of the sink, so thousands of quiet serves add no timer each.
import { asyncScheduler, lastValueFrom, Subject } from 'rxjs';
import { logplexSink } from '../../src/sink';
import type { SourcedChunk, SourcedRecord } from '../../src/source/sourcedRecord';
import { FAST, makeRecord, makeServe, msgOf, startServer, stubFormatter, type TestServer } from './support';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A chunk of `texts`, one record each, as one read of a connection of `serve`. */
function chunk(serve: ReturnType<typeof makeServe>, texts: string[], firstSeq = 1): SourcedChunk {
  return { serve, records: texts.map((text, i) => makeRecord(serve, text, firstSeq + i).message), receivedAt: Date.now() };
}

describe('logplexSink fed chunks', () => {
  it("writes a chunk's records in order, cut only at maxBatchFrames, into one post per body", async () => {
    server = await startServer();
    const serve = makeServe(server.url);
    const input = new Subject<SourcedChunk>();
    const done = lastValueFrom(logplexSink(input, { ...FAST, format: stubFormatter, maxBatchFrames: 3, flushIntervalMs: 60_000 }));
    input.next(chunk(serve, ['a', 'b', 'c', 'd', 'e', 'f', 'g']));
    input.next(chunk(serve, ['h'], 8));
    input.complete();
    const stats = await done;
    expect(server.received.map((r) => r.frames.map(msgOf))).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['g', 'h']]);
    expect(stats.framesOut).toBe(8);
  });

  it('adds no timer per lane: a record on each of 500 serves asks the scheduler for a handful', async () => {
    server = await startServer();
    const url = server.url;
    const serves = Array.from({ length: 500 }, (_, i) => makeServe(url, { socketPath: `/run/test/${i}.sock`, name: `S${i}` }));
    const timers = jest.spyOn(asyncScheduler, 'schedule'); // what the sink asks for (an action rescheduling itself is not counted)
    try {
      const input = new Subject<SourcedRecord>(); // single records: the sink takes them as chunks of one
      const done = lastValueFrom(logplexSink(input, { ...FAST, format: stubFormatter, flushIntervalMs: 60_000, scheduler: asyncScheduler }));
      const before = timers.mock.calls.length;
      for (const [i, serve] of serves.entries()) input.next(makeRecord(serve, `line ${i}`));
      // A flush deadline and an idle deadline per lane, on two shared queues: two timers in all.
      expect(timers.mock.calls.length - before).toBeLessThanOrEqual(2);
      input.complete();
      const stats = await done;
      expect(stats.framesOut).toBe(500);
    } finally {
      timers.mockRestore();
    }
    expect(server.received.flatMap((r) => r.frames.map(msgOf)).sort()).toEqual(serves.map((_, i) => `line ${i}`).sort());
  });
});
