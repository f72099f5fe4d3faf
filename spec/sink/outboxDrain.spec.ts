// A serve's outbox drains its spool with one drain at a time: started again when a batch landed
// while the last drain was finishing, not spinning on a spool whose pending count it cannot
// drain, and stopped by the sink's end. The spool here answers next() when the test says so.
import { gzipSync } from 'node:zlib';
import { lastValueFrom, of, Subject, type Observable } from 'rxjs';
import { logplexSink, type PostTransport, type SinkSpool } from '../../src/sink';
import type { SpooledBatch } from '../../src/spool/format';
import type { AppendOutcome, ServeSpool, SpoolCounts, SpoolEntry } from '../../src/spool/store';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import { makeRecord, makeServe, stubFormatter, stubFrames } from './support';

const SERVE = makeServe('http://127.0.0.1:1/logs', { socketPath: '/run/a.sock' });
const batch: SpooledBatch = {
  serve: SERVE,
  body: stubFrames(makeRecord(SERVE, 'x')).bytes,
  gzipped: false,
  frameCount: 1,
  logFrames: 1,
  dropCount: 0,
  lostCount: 0,
  createdAtMs: 0,
};

/** A spool whose next() answers are handed out by the test, one Subject per call. */
class ScriptedSpool implements ServeSpool {
  readonly socketPath = '/run/a.sock';
  pending = 1;
  readonly nexts: Subject<SpoolEntry | undefined>[] = [];
  append(): Observable<AppendOutcome> {
    this.pending += 1;
    return of('spooled');
  }
  next(): Observable<SpoolEntry | undefined> {
    const answer = new Subject<SpoolEntry | undefined>();
    this.nexts.push(answer);
    return answer;
  }
  ack(): Observable<void> {
    this.pending -= 1;
    return of(undefined);
  }
  counts(): SpoolCounts {
    return { bytes: 0, batches: this.pending, oldestMs: undefined };
  }
}

function storeOf(spool: ScriptedSpool): SinkSpool {
  return {
    options: { highWaterBytes: Number.POSITIVE_INFINITY },
    serve: () => spool,
    recovered: () => [spool],
    countsOf: () => spool.counts(),
    totals: () => spool.counts(),
  };
}

/** Answers every post 204 at once (a PromiseLike that settles synchronously). */
function answering(posted: string[]): PostTransport {
  const done = <T>(value: T): PromiseLike<T> => ({
    then: <A = T, B = never>(ok?: ((v: T) => A | PromiseLike<A>) | null) => {
      ok?.(value);
      return new Promise<A | B>(() => undefined);
    },
  });
  return { send: (post) => (posted.push(post.frameId), done({ status: 204, bytes: post.body.length })), close: () => done(undefined), destroy: () => done(undefined) };
}

const answer = (s: Subject<SpoolEntry | undefined>, entry: SpoolEntry | undefined): void => {
  s.next(entry);
  s.complete();
};

describe("an outbox's drain", () => {
  it('runs once per serve, and again for a batch that landed while it was finishing', async () => {
    const spool = new ScriptedSpool();
    const posted: string[] = [];
    const input = new Subject<SourcedRecord>();
    const done = lastValueFrom(logplexSink(input, { format: stubFormatter, transport: answering(posted), spool: storeOf(spool), maxBatchFrames: 1, deflate: (body) => of(gzipSync(body)) }), { defaultValue: undefined });
    expect(spool.nexts).toHaveLength(1); // the drain of what an earlier run left
    // A record while the spool holds something goes behind it: appended, and the drain kicked
    // while it is still waiting for its answer, which then says "nothing".
    input.next(makeRecord(SERVE, 'behind'));
    expect(spool.nexts).toHaveLength(1); // already running: no second drain
    answer(spool.nexts[0]!, undefined);
    // It ended and, kicked meanwhile, started again: this time the batch is there.
    expect(spool.nexts).toHaveLength(2);
    answer(spool.nexts[1]!, { batch });
    expect(posted).toHaveLength(1);
    answer(spool.nexts[2]!, undefined);
    expect(spool.pending).toBe(1); // two appended or left, one acked
    input.complete();
    await done;
  });

  it('does not spin on a spool that says it has batches but hands none out', async () => {
    const spool = new ScriptedSpool();
    spool.pending = 3; // an ack the disk refused, say
    const input = new Subject<SourcedRecord>();
    const done = lastValueFrom(logplexSink(input, { format: stubFormatter, transport: answering([]), spool: storeOf(spool) }), { defaultValue: undefined });
    answer(spool.nexts[0]!, undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(spool.nexts).toHaveLength(1);
    input.complete();
    await done;
  });

  it('ends with the sink when no post is in flight, taking nothing more', async () => {
    const spool = new ScriptedSpool();
    const input = new Subject<SourcedRecord>();
    const done = lastValueFrom(logplexSink(input, { format: stubFormatter, transport: answering([]), spool: storeOf(spool) }), { defaultValue: undefined });
    expect(spool.nexts).toHaveLength(1);
    input.complete();
    await done;
    expect(spool.nexts[0]!.observed).toBe(false); // the drain's read was given up
    expect(spool.nexts).toHaveLength(1);
  });
});
