// The sink with a spool, against a real HTTP server and a real directory: logplex fails, batches
// go to disk instead of waiting in memory (or being dropped), come back in order when it
// recovers, survive a stop and a new start, and live lines wait behind them.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, Subject, tap } from 'rxjs';
import { logplexSink, type LogplexSinkConfig, type PostFailedEvent, type SinkEvent, type SinkStats } from '../../src/sink';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import type { SpoolEvent } from '../../src/spool/events';
import { resolveSpoolOptions, type SpoolOptionsInput } from '../../src/spool/options';
import { SpoolStore } from '../../src/spool/store';
import { MARKER_NAME } from '../../src/spool/layout';
import { FAST, makeRecord, makeServe, msgOf, startServer, stubFormatter, waitFor, type TestServer } from './support';

let dir: string;
const servers: TestServer[] = [];
const stores: SpoolStore[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sink-spool-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openStore(extra: Partial<SpoolOptionsInput> = {}, events: SpoolEvent[] = []): Promise<SpoolStore> {
  const store = await SpoolStore.open(resolveSpoolOptions({ dir, minFreeBytes: 0, minFreeRatio: 0, ...extra }), (e) => events.push(e));
  stores.push(store);
  return store;
}

interface Running {
  readonly input: Subject<SourcedRecord>;
  readonly events: SinkEvent[];
  latest: SinkStats | undefined; // the sink's latest stats snapshot
  done: Promise<SinkStats>;
}

function run(store: SpoolStore, config: Partial<LogplexSinkConfig> = {}, input = new Subject<SourcedRecord>()): Running {
  const events: SinkEvent[] = [];
  const r: Omit<Running, 'done'> & { done?: Promise<SinkStats> } = { input, events, latest: undefined };
  r.done = lastValueFrom(
    logplexSink(input, { ...FAST, format: stubFormatter, events: (e) => events.push(e), spool: store, ...config }).pipe(tap((s) => (r.latest = s))),
  );
  return r as Running;
}

const texts = (n: number, prefix = 'line'): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

describe('logplexSink with a spool', () => {
  it('spools while logplex fails, drops nothing, and delivers everything in order once it is back', async () => {
    let up = false;
    const answered: boolean[] = [];
    const s = await startServer((_req, i) => {
      answered[i] = up;
      return up ? 204 : 503;
    });
    servers.push(s);
    const serve = makeServe(s.url);
    const store = await openStore();
    // A buffer cap far below what is sent: without the spool most of it would be dropped.
    const r = run(store, { bufferCapBytes: 64 * 1024, maxBatchFrames: 100 });
    const all = texts(3000);
    // Fed as a database would, a few hundred lines at a time: each lot spooled before the next
    // (a burst over the buffer cap within one round trip is dropped, spool or not).
    for (let lot = 0; lot < 3000; lot += 150) {
      for (let i = lot; i < lot + 150; i += 1) r.input.next(makeRecord(serve, all[i] as string, i + 1));
      await waitFor(() => r.latest?.recordsIn === lot + 150 && r.latest.queuedBytes === 0, 10_000, `lot ${lot} on disk`);
    }
    expect(r.latest).toMatchObject({ dropped: 0, lost: 0 });
    expect(r.latest!.spoolBytes).toBeGreaterThan(0);
    expect(r.latest!.serves[0]).toMatchObject({ spoolBatches: r.latest!.spoolBatches });
    up = true;
    await waitFor(() => r.latest?.spoolBatches === 0, 15_000, 'the spool to drain');
    r.input.next(makeRecord(serve, 'live after', 3001));
    r.input.complete();
    const stats = await r.done;
    const ok = s.received.filter((_, i) => answered[i] === true).flatMap((req) => req.frames.map(msgOf));
    expect(ok).toEqual([...all, 'live after']); // in order, each once
    expect(stats).toMatchObject({ recordsIn: 3001, framesOut: 3001, dropped: 0, lost: 0, queuedBytes: 0, spoolBatches: 0, spoolBytes: 0 });
    expect(s.received.some((req) => req.headers['content-encoding'] === 'gzip')).toBe(true); // spooled bodies go out as they were kept
    const serveDirs = (await readdir(store.root)).filter((d) => d !== MARKER_NAME);
    for (const d of serveDirs) expect(await readdir(join(store.root, d))).toEqual([]);
  });

  it('leaves the spool on disk at a stop, and a new start delivers it with the token it was read under', async () => {
    let up = false;
    const accepted: boolean[] = [];
    const s = await startServer((_req, i) => ((accepted[i] = up) ? 204 : 503));
    servers.push(s);
    const gone = makeServe(s.url, { socketPath: '/run/test/gone.sock', token: 't.old-token', name: 'GONE' });
    const first = await openStore();
    const r1 = run(first);
    for (const [i, t] of texts(50).entries()) r1.input.next(makeRecord(gone, t, i + 1));
    await waitFor(() => r1.latest?.recordsIn === 50 && r1.latest.queuedBytes === 0 && r1.latest.spoolBatches > 0, 10_000, 'all on disk');
    r1.input.complete();
    await r1.done; // a graceful stop does not wait for the spool
    await first.close();
    stores.splice(stores.indexOf(first), 1);

    // Logplex is back; the serve is gone (no record of it ever comes to the new sink).
    up = true;
    const events: SpoolEvent[] = [];
    const second = await openStore({}, events);
    const r2 = run(second); // while the spool is still being read: its drainer waits for it
    await waitFor(() => r2.latest?.spoolBatches === 0 && r2.latest.framesOut === 50, 10_000, 'the recovered spool to be delivered');
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_recovered', serve: 'GONE', socket: '/run/test/gone.sock', frames: 50 }));
    const ok = s.received.filter((_, i) => accepted[i] === true);
    expect(ok.flatMap((req) => req.frames.map(msgOf))).toEqual(texts(50));
    expect(ok[0]!.headers.authorization).toBe(`Basic ${Buffer.from('token:t.old-token').toString('base64')}`);
    expect(r2.latest!.serves).toEqual([]); // its drainer ended: no lane of it is left
    r2.input.complete();
    await r2.done;
  });

  it('past the spool cap, holds in memory and drops at the buffer cap as without a spool, and says so in L10', async () => {
    let up = false;
    const accepted: boolean[] = [];
    const s = await startServer((_req, i) => (accepted[i] = up) ? 204 : 503);
    servers.push(s);
    const serve = makeServe(s.url);
    const events: SpoolEvent[] = [];
    const store = await openStore({ capBytes: 4096 }, events);
    const r = run(store, { bufferCapBytes: 16 * 1024, maxBatchFrames: 20 });
    const all = texts(2000, 'x'.repeat(40));
    for (let lot = 0; lot < 2000; lot += 100) {
      for (let i = lot; i < lot + 100; i += 1) r.input.next(makeRecord(serve, all[i] as string, i + 1));
      // Until the spool is full each lot goes to disk; after, memory holds up to the buffer cap.
      await waitFor(() => r.latest?.recordsIn === lot + 100 && (r.latest.queuedBytes === 0 || events.some((e) => e.kind === 'spool_full')), 10_000, `lot ${lot}`);
    }
    await waitFor(() => (r.latest?.recordsIn ?? 0) === 2000, 10_000, 'all read');
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_full', reason: 'cap' }));
    const dropped = r.latest!.dropped;
    expect(dropped).toBeGreaterThan(0);
    up = true;
    // A condition, not a speed limit: on a loaded machine the in-memory retries and the spool's
    // appends in formation order can take a while to settle.
    await waitFor(() => r.latest?.spoolBatches === 0 && r.latest?.queuedBytes === 0, 45_000, 'all settled');
    r.input.complete();
    const stats = await r.done;
    const frames = s.received.filter((_, i) => accepted[i] === true).flatMap((req) => req.frames);
    const l10 = frames.filter((f) => f.includes('Error L10'));
    const announced = l10.reduce((n, f) => n + Number(/(\d+) messages dropped/.exec(f)?.[1] ?? 0), 0);
    expect(announced).toBe(stats.dropped);
    // Every line delivered, dropped or lost (FAST gives up in-memory retries within a second or two).
    expect(stats.framesOut - l10.length + stats.dropped + stats.lost).toBe(2000);
  }, 60_000);

  it('a stop during a drain lets the post in flight finish and marks it delivered: the next start does not post it again', async () => {
    let up = false;
    let release: (status: number) => void = () => undefined;
    const held = new Promise<number>((resolve) => (release = resolve));
    let holding = -1; // the index of the request held open
    const s = await startServer((_req, i) => {
      if (!up) return 503;
      if (holding < 0) {
        holding = i;
        return { later: held };
      }
      return 204;
    });
    servers.push(s);
    const serve = makeServe(s.url);
    const first = await openStore();
    const r1 = run(first, { maxBatchFrames: 1 });
    for (const [i, t] of texts(3).entries()) r1.input.next(makeRecord(serve, t, i + 1));
    await waitFor(() => r1.latest?.recordsIn === 3 && r1.latest.queuedBytes === 0 && r1.latest.spoolBatches === 3, 10_000, 'three batches on disk');
    up = true;
    await waitFor(() => holding >= 0 && s.received.length > holding, 10_000, "the drain's post to be in flight");
    r1.input.complete(); // the stop (SIGTERM) comes while it is in flight
    release(204);
    const stats = await r1.done;
    expect(stats).toMatchObject({ framesOut: 1, lost: 0 });
    await first.close();
    stores.splice(stores.indexOf(first), 1);

    const events: SpoolEvent[] = [];
    const second = await openStore({}, events);
    await second.recovery(); // read in the background, after open() resolved
    // The batch answered 204 during the stop is marked delivered: only the two behind it wait.
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_recovered', batches: 2, frames: 2 }));
    const r2 = run(second);
    await waitFor(() => r2.latest?.spoolBatches === 0 && r2.latest.framesOut === 2, 10_000, 'the rest delivered');
    r2.input.complete();
    await r2.done;
    const delivered = s.received.slice(holding).flatMap((req) => req.frames.map(msgOf));
    expect(delivered).toEqual(texts(3)); // each once, in order
  });

  it('a stop just after the drain delivered a batch waits for its ack: the last stats show the spool empty, no segment left', async () => {
    let up = false;
    const s = await startServer(() => (up ? 204 : 503));
    servers.push(s);
    const serve = makeServe(s.url);
    const store = await openStore();
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    // Every snapshot at once (no throttle), so the one that tells of the delivery comes as the
    // drain moves on to the batch's ack, and the stop is asked for right there.
    const done = lastValueFrom(
      logplexSink(input, { ...FAST, format: stubFormatter, spool: store, maxBatchFrames: 1, statsIntervalMs: 0 }).pipe(
        tap((st) => {
          latest = st;
          if (st.framesOut === 2) input.complete(); // once stopped, a Subject ignores it
        }),
      ),
    );
    for (const [i, t] of texts(2).entries()) input.next(makeRecord(serve, t, i + 1));
    await waitFor(() => latest?.recordsIn === 2 && latest.queuedBytes === 0 && latest.spoolBatches === 2, 10_000, 'two batches on disk');
    up = true;
    const stats = await done;
    expect(stats).toMatchObject({ framesOut: 2, spoolBatches: 0, spoolBytes: 0 });
    const serveDirs = (await readdir(store.root)).filter((d) => d !== MARKER_NAME);
    for (const d of serveDirs) expect(await readdir(join(store.root, d))).toEqual([]);
  });

  it('spools the posts in flight when logplex fails in the order they were formed, whatever order their failures come in', async () => {
    let up = false;
    const answered: boolean[] = [];
    let failOldest: (status: number) => void = () => undefined;
    const oldestFails = new Promise<number>((resolve) => (failOldest = resolve));
    let others = 0; // first tries of the newer batches answered 503
    const s = await startServer((req, i) => {
      answered[i] = up;
      if (up) return 204;
      if (req.frames.map(msgOf).includes('line 0')) return { later: oldestFails }; // its failure comes last
      others += 1;
      return 503;
    });
    servers.push(s);
    const serve = makeServe(s.url);
    const store = await openStore();
    const r = run(store, { maxBatchFrames: 1 }); // three batches, all in post slots at once (concurrency 4)
    for (const [i, t] of texts(3).entries()) r.input.next(makeRecord(serve, t, i + 1));
    await waitFor(() => others >= 2, 10_000, 'the newer batches to fail first');
    failOldest(503);
    await waitFor(() => r.latest?.recordsIn === 3 && r.latest.queuedBytes === 0 && r.latest.spoolBatches === 3, 10_000, 'three batches on disk');
    up = true;
    await waitFor(() => r.latest?.spoolBatches === 0 && r.latest.framesOut === 3, 10_000, 'the spool to drain');
    r.input.complete();
    await r.done;
    const ok = s.received.filter((_, i) => answered[i] === true).flatMap((req) => req.frames.map(msgOf));
    expect(ok).toEqual(texts(3)); // oldest first, as the serve wrote them
  });

  it('keeps its stats moving while batches wait in the spool: the oldest batch ages, failed posts count', async () => {
    const s = await startServer(() => 503);
    servers.push(s);
    const serve = makeServe(s.url);
    const store = await openStore();
    const r = run(store);
    r.input.next(makeRecord(serve, 'waits', 1));
    await waitFor(() => r.latest?.recordsIn === 1 && r.latest.queuedBytes === 0 && r.latest.spoolBatches === 1, 10_000, 'the batch on disk');
    const then = r.latest!;
    // No record comes, no batch forms or settles: the snapshots must still follow the spool.
    await waitFor(
      () => r.latest!.spoolOldestAgeMs > then.spoolOldestAgeMs + 100 && r.latest!.requestsRetried > then.requestsRetried + 2,
      10_000,
      'the stats to move',
    );
    expect(r.latest!.serves[0]).toMatchObject({ spoolBatches: 1, spoolOldestAgeMs: expect.any(Number) });
    r.input.complete();
    await r.done;
  });

  it('logs one post_failed for the try that sent a batch to the spool, saying when it is tried again', async () => {
    const s = await startServer(() => 503);
    servers.push(s);
    const serve = makeServe(s.url);
    const store = await openStore();
    const r = run(store);
    r.input.next(makeRecord(serve, 'fails', 1));
    const failed = (): PostFailedEvent[] => r.events.filter((e): e is PostFailedEvent => e.kind === 'post_failed');
    await waitFor(() => failed().some((e) => e.attempt >= 3), 10_000, 'three tries');
    const firsts = failed().filter((e) => e.attempt === 1);
    expect(firsts).toEqual([expect.objectContaining({ will_retry: true, retry_in_ms: expect.any(Number) })]);
    expect(failed().map((e) => e.attempt).slice(0, 3)).toEqual([1, 2, 3]); // the drain goes on from the first try
    r.input.complete();
    await r.done;
  });
});
