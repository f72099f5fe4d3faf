// The sink against real HTTP servers on 127.0.0.1: what goes on the wire, and what happens when
// logplex fails in each of the ways the input spec names.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lastValueFrom, Subject, tap, type Subscription } from 'rxjs';
import { LogplexClient, logplexSink, resolveSinkOptions, type LogplexSinkConfig, type PostTransport, type SinkEvent, type SinkStats } from '../../src/sink';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import { deadPort, FAST, makeRecord, makeServe, msgOf, startServer, stubFormatter, stubFrames, waitFor, type TestServer } from './support';
import { undiciPool } from '../../src/sink/undiciPool';

const servers: TestServer[] = [];
async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Run the sink over `records` to completion; returns the final stats and every event. */
async function runSink(records: SourcedRecord[], config: Partial<LogplexSinkConfig> = {}): Promise<{ stats: SinkStats; events: SinkEvent[] }> {
  const events: SinkEvent[] = [];
  const input = new Subject<SourcedRecord>();
  const done = lastValueFrom(logplexSink(input, { ...FAST, format: stubFormatter, events: (e) => events.push(e), ...config }));
  for (const r of records) input.next(r);
  input.complete();
  return { stats: await done, events };
}

const lines = (n: number, prefix = 'line'): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

describe('logplexSink: the request', () => {
  it('POSTs to the URL path with the logplex headers', async () => {
    const s = await server();
    const serve = makeServe(`${s.url}?source=pg`);
    await runSink(lines(3).map((t) => makeRecord(serve, t)));
    expect(s.received).toHaveLength(1);
    const req = s.received[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/logs?source=pg');
    expect(req.headers['content-type']).toBe('application/logplex-1');
    expect(req.headers['content-length']).toBe(String(req.raw.length));
    expect(req.headers['transfer-encoding']).toBeUndefined();
    expect(req.headers['logplex-msg-count']).toBe('3');
    expect(req.frames).toHaveLength(3);
    expect(req.headers['logplex-frame-id']).toMatch(/^[0-9A-F]{32}$/);
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(req.headers['user-agent']).toBe(`pg-logplexcollector/${pkg.version}`);
    expect(req.headers['content-encoding']).toBeUndefined();
  });

  it('authenticates `t` serves as token:<token>', async () => {
    const s = await server();
    await runSink([makeRecord(makeServe(s.url, { user: 'token', token: 't.abc-123' }), 'x')]);
    expect(s.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('token:t.abc-123').toString('base64')}`);
  });

  it('authenticates `url` serves with the URL user and password', async () => {
    const s = await server();
    await runSink([makeRecord(makeServe(s.url, { user: 'alice', token: 'p@ss:word' }), 'x')]);
    expect(s.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('alice:p@ss:word').toString('base64')}`);
  });

  it('frames every record exactly once, in order, in batches of at most maxBatchFrames', async () => {
    const s = await server();
    const serve = makeServe(s.url);
    const texts = lines(1203);
    // One post at a time so arrival order is batch order (concurrent posts may land in any order).
    const { stats } = await runSink(
      texts.map((t, i) => makeRecord(serve, t, i + 1)),
      { maxBatchFrames: 500, concurrency: 1 },
    );
    expect(s.received.map((r) => r.frames.length)).toEqual([500, 500, 203]);
    for (const r of s.received) expect(r.headers['logplex-msg-count']).toBe(String(r.frames.length));
    expect(s.received.flatMap((r) => r.frames.map(msgOf))).toEqual(texts);
    expect(stats).toMatchObject({ recordsIn: 1203, framesIn: 1203, framesOut: 1203, requestsOk: 3, dropped: 0, lost: 0, queuedBytes: 0 });
    expect(stats.bytesOut).toBe(s.received.reduce((n, r) => n + r.raw.length, 0));
  });

  it('cuts batches at maxBatchBytes', async () => {
    const s = await server();
    const serve = makeServe(s.url);
    const texts = lines(40, 'x'.repeat(200));
    await runSink(texts.map((t) => makeRecord(serve, t)), { maxBatchBytes: 2048, concurrency: 1 });
    expect(s.received.length).toBeGreaterThan(4);
    for (const r of s.received) expect(r.raw.length).toBeLessThanOrEqual(2048);
    expect(s.received.flatMap((r) => r.frames.map(msgOf))).toEqual(texts);
  });

  it('gzips bodies that inflate to the same frames', async () => {
    const s = await server();
    const serve = makeServe(s.url);
    const texts = lines(50);
    await runSink(texts.map((t) => makeRecord(serve, t)), { gzip: true });
    const req = s.received[0]!;
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(req.headers['content-length']).toBe(String(req.raw.length));
    expect(req.raw.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(req.raw.length).toBeLessThan(req.body.length);
    expect(req.frames.map(msgOf)).toEqual(texts);
    expect(req.headers['logplex-msg-count']).toBe('50');
  });

  it('cuts the batch and posts with the new credentials when a serve changes token mid-batch', async () => {
    const s = await server();
    const before = makeServe(s.url, { token: 't.old' });
    const after = makeServe(s.url, { token: 't.new' });
    await runSink([makeRecord(before, 'a'), makeRecord(before, 'b'), makeRecord(after, 'c')]);
    expect(s.received.map((r) => [r.headers.authorization, r.frames.map(msgOf)])).toEqual([
      [`Basic ${Buffer.from('token:t.old').toString('base64')}`, ['a', 'b']],
      [`Basic ${Buffer.from('token:t.new').toString('base64')}`, ['c']],
    ]);
  });

  it('posts each serve separately and at most `concurrency` at once per serve', async () => {
    const s = await server();
    // A stuck logplex for serve A: every request hangs, so nothing frees a slot.
    const slow = await server(() => 'hang');
    const serveA = makeServe(slow.url, { socketPath: '/run/a.sock' });
    const serveB = makeServe(s.url, { socketPath: '/run/b.sock' });
    const input = new Subject<SourcedRecord>();
    const statsSeen: SinkStats[] = [];
    const sub: Subscription = logplexSink(input, { ...FAST, format: stubFormatter, concurrency: 2, maxBatchFrames: 1 }).subscribe((st) =>
      statsSeen.push(st),
    );
    for (const t of lines(6)) input.next(makeRecord(serveA, t));
    input.next(makeRecord(serveB, 'other serve'));
    await waitFor(() => slow.received.length === 2 && s.received.length === 1, 3000, 'two slow posts and the other serve');
    await new Promise((r) => setTimeout(r, 100));
    expect(slow.received).toHaveLength(2); // the other four wait for a slot, without holding up serve B
    const last = statsSeen[statsSeen.length - 1]!;
    expect(last.serves.find((x) => x.socketPath === '/run/b.sock')).toMatchObject({ requestsOk: 1, queuedBytes: 0 });
    expect(last.serves.find((x) => x.socketPath === '/run/a.sock')!.queuedBytes).toBeGreaterThan(0);
    sub.unsubscribe(); // abort: in-flight requests are dropped, dispatchers destroyed
  });
});

describe('logplexSink: failures', () => {
  it('retries 503s with the same Frame-Id until logplex recovers, delivering every frame once', async () => {
    const s = await server((_req, i) => (i < 4 ? 503 : 204));
    const serve = makeServe(s.url);
    const texts = lines(30);
    const { stats, events } = await runSink(texts.map((t) => makeRecord(serve, t)), { maxBatchFrames: 10 });
    const accepted = new Map<string, string[]>();
    s.received.forEach((r, i) => {
      if (i >= 4) accepted.set(String(r.headers['logplex-frame-id']), r.frames.map(msgOf));
    });
    // Every failed body came back later, byte for byte, under its Frame-Id.
    for (const failed of s.received.slice(0, 4)) {
      const id = String(failed.headers['logplex-frame-id']);
      expect(accepted.has(id)).toBe(true);
      expect(s.received.filter((r) => r.headers['logplex-frame-id'] === id).every((r) => r.raw.equals(failed.raw))).toBe(true);
    }
    expect([...accepted.values()].flat().sort()).toEqual([...texts].sort());
    expect(stats).toMatchObject({ requestsOk: 3, requestsRetried: 4, requestsFailed: 0, lost: 0, framesOut: 30 });
    const failures = events.filter((e) => e.kind === 'post_failed');
    expect(failures).toHaveLength(4);
    expect(failures[0]).toMatchObject({ code: 'LOGPLEX_HTTP_STATUS', status: 503, will_retry: true, level: 'warn', serve: 'BLUE', socket: '/run/test/a.sock' });
  });

  it('reuses no body that may still be retried: every retry is byte for byte its first attempt', async () => {
    // Successful bodies go back to a pool (bodyPool.ts) while other batches back off after a 503.
    // Were a failed body pooled too, a later batch would overwrite it before its retry.
    const s = await server((_req, i) => (i % 3 === 1 ? 503 : 204));
    const serve = makeServe(s.url);
    const texts = lines(300, `pooled ${'x'.repeat(1000)}`); // big enough for pooled bodies
    // Batches form while earlier ones are posted and backing off, so pooled bodies get reused.
    const input = new Subject<SourcedRecord>();
    const done = lastValueFrom(
      logplexSink(input, { ...FAST, format: stubFormatter, maxBatchFrames: 10, maxBatchBytes: 12_000, concurrency: 2 }),
    );
    for (let i = 0; i < texts.length; i += 10) {
      for (const t of texts.slice(i, i + 10)) input.next(makeRecord(serve, t));
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
    input.complete();
    const stats = await done;
    const firstAttempt = new Map<string, Buffer>();
    const delivered: string[] = [];
    s.received.forEach((r, i) => {
      const id = String(r.headers['logplex-frame-id']);
      const first = firstAttempt.get(id);
      if (first === undefined) firstAttempt.set(id, r.raw);
      else expect(r.raw.equals(first)).toBe(true);
      if (i % 3 !== 1) delivered.push(...r.frames.map(msgOf));
    });
    expect(delivered.sort()).toEqual([...texts].sort());
    expect(stats).toMatchObject({ requestsOk: 30, lost: 0, framesOut: 300 });
    expect(stats.requestsRetried).toBeGreaterThanOrEqual(10);
  });

  it('holds batches gzipped while logplex fails, sends them as gzip when it is back, then plain again', async () => {
    // The first four posts fail; batches formed meanwhile wait compressed (a fraction of their
    // bytes in memory through an outage) and go out with Content-Encoding: gzip.
    let failing = true;
    const statuses: number[] = [];
    const s = await server((_req, i) => (statuses[i] = failing ? 503 : 204));
    const serve = makeServe(s.url);
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    const done = lastValueFrom(
      logplexSink(input, { ...FAST, format: stubFormatter, maxBatchFrames: 5, concurrency: 1 }).pipe(tap((st) => (latest = st))),
    );
    // Lines of a KiB: a body under 4 KiB would save too little to be worth gzipping (lane.ts).
    const texts = lines(40, `outage ${'x'.repeat(1024)}`);
    for (const t of texts.slice(0, 5)) input.next(makeRecord(serve, t)); // one batch, posted and failing
    await waitFor(() => s.received.length >= 2, 5000, 'a retry');
    for (const t of texts.slice(5, 30)) input.next(makeRecord(serve, t)); // five batches formed while failing
    await waitFor(() => (latest?.queuedBytes ?? 0) > 0 && s.received.length >= 4, 5000, 'more retries');
    failing = false;
    await waitFor(() => latest?.queuedBytes === 0, 5000, 'the backlog to drain');
    for (const t of texts.slice(30)) input.next(makeRecord(serve, t)); // after recovery
    input.complete();
    const stats = await done;

    const ok = s.received.filter((_r, i) => statuses[i] === 204);
    expect(ok.flatMap((r) => r.frames.map(msgOf))).toEqual(texts); // every frame once, in order (concurrency 1)
    const encodingOf = (r: (typeof ok)[number]): string => String(r.headers['content-encoding'] ?? 'identity');
    expect(ok.map(encodingOf)).toEqual(['identity', 'gzip', 'gzip', 'gzip', 'gzip', 'gzip', 'identity', 'identity']);
    expect(stats).toMatchObject({ framesOut: 40, lost: 0, dropped: 0 });
  });

  it('waits as long as a Retry-After asks before trying again', async () => {
    const s = await server((_req, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : 204));
    const serve = makeServe(s.url);
    const { stats, events } = await runSink([makeRecord(serve, 'patience')]); // FAST: backoff alone would wait 10 ms
    expect(s.received).toHaveLength(2);
    expect((s.arrivedAt[1] as number) - (s.arrivedAt[0] as number)).toBeGreaterThanOrEqual(950);
    expect(events.find((e) => e.kind === 'post_failed')).toMatchObject({ status: 503, retry_in_ms: 1000, will_retry: true });
    expect(stats).toMatchObject({ framesOut: 1, requestsRetried: 1, lost: 0 });
  });

  it('does not retry a 400: the batch is lost, counted, and announced within a flush interval', async () => {
    const s = await server((_req, i) => (i === 0 ? 400 : 204));
    const serve = makeServe(s.url);
    const events: SinkEvent[] = [];
    const input = new Subject<SourcedRecord>();
    const done = lastValueFrom(logplexSink(input, { ...FAST, format: stubFormatter, events: (e) => events.push(e) }));
    for (const t of lines(3)) input.next(makeRecord(serve, t));
    await waitFor(() => events.some((e) => e.kind === 'batch_lost'), 3000, 'the batch to be given up');
    // No record follows: the count goes out alone (and is not a retry of the batch).
    await waitFor(() => s.received.length === 2, 3000, 'the notice of the loss');
    const notice = s.received[1]!;
    expect(notice.frames.map(msgOf)).toEqual([
      expect.stringMatching(/^Error L10 \(output buffer overflow\): 3 messages lost since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\.$/),
    ]);
    expect(notice.headers['logplex-lost-count']).toBe('3');
    expect(notice.headers['logplex-msg-count']).toBe('1');
    input.next(makeRecord(serve, 'after'));
    input.complete();
    const stats = await done;
    expect(s.received).toHaveLength(3);
    expect(s.received[2]!.frames.map(msgOf)).toEqual(['after']);
    expect(s.received[2]!.headers['logplex-lost-count']).toBeUndefined();
    expect(stats).toMatchObject({ requestsFailed: 1, requestsRetried: 0, lost: 3, requestsOk: 2 });
    expect(events.filter((e) => e.kind === 'batch_lost')).toEqual([
      expect.objectContaining({ reason: 'permanent', status: 400, frames: 3, attempts: 1 }),
    ]);
  });

  it("counts lines the tenant's logplex refuses (401, 403, 404, 422) as refused, per serve, besides lost; a 400 is not", async () => {
    const brokenAuth = `Basic ${Buffer.from('token:t.broken').toString('base64')}`;
    const s = await server((req) => (req.headers.authorization === brokenAuth ? 400 : 401));
    const refused = makeServe(s.url, { socketPath: '/run/refused.sock', name: 'REVOKED', token: 't.revoked' });
    const broken = makeServe(s.url, { socketPath: '/run/broken.sock', name: 'BROKEN', token: 't.broken' });
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    const done = lastValueFrom(logplexSink(input, { ...FAST, format: stubFormatter, laneIdleMs: 60_000 }).pipe(tap((st) => (latest = st))));
    for (const t of lines(3)) input.next(makeRecord(refused, t));
    input.next(makeRecord(broken, 'bad request'));
    await waitFor(() => latest?.lost === 4, 3000, 'both batches given up');
    const byName = (name: string) => latest!.serves.find((x) => x.name === name);
    expect(byName('REVOKED')).toMatchObject({ lost: 3, refused: 3 });
    expect(byName('BROKEN')).toMatchObject({ lost: 1, refused: 0 }); // our request was wrong: ours to fix
    input.complete();
    const stats = await done;
    // Each serve's last notice of its loss is answered as its lines were: REVOKED's refused too.
    expect(stats).toMatchObject({ lost: 6, refused: 4 });
  });

  it('times out a logplex that never answers, and retries the same body', async () => {
    const s = await server((_req, i) => (i === 0 ? 'hang' : 204));
    const serve = makeServe(s.url);
    const { stats, events } = await runSink([makeRecord(serve, 'patient')], { headersTimeoutMs: 150 });
    expect(s.received).toHaveLength(2);
    expect(s.received[1]!.headers['logplex-frame-id']).toBe(s.received[0]!.headers['logplex-frame-id']);
    expect(events.filter((e) => e.kind === 'post_failed')).toEqual([
      expect.objectContaining({ code: 'LOGPLEX_TIMEOUT', cause: 'UND_ERR_HEADERS_TIMEOUT', will_retry: true, attempt: 1 }),
    ]);
    expect(stats).toMatchObject({ requestsOk: 1, requestsRetried: 1, lost: 0 });
  });

  it('fails a post whose answer trickles in past the post deadline, and retries the same body', async () => {
    // 200 with Content-Length: 1000, then one byte at a time: each gap is far inside the body
    // timeout, so only an overall deadline ends the request.
    const trickles: NodeJS.Timeout[] = [];
    let running: Subscription | undefined;
    const received: { frameId: string | string[] | undefined; body: string }[] = [];
    const trickler = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ frameId: req.headers['logplex-frame-id'], body });
        if (received.length > 1) {
          res.writeHead(204).end();
          return;
        }
        res.writeHead(200, { 'content-length': '1000' });
        res.flushHeaders();
        const t = setInterval(() => res.write('x'), 50);
        trickles.push(t);
        res.on('close', () => clearInterval(t));
      });
    });
    await new Promise<void>((r) => trickler.listen(0, '127.0.0.1', r));
    try {
      const { port } = trickler.address() as AddressInfo;
      const serve = makeServe(`http://127.0.0.1:${port}/logs`);
      const events: SinkEvent[] = [];
      const input = new Subject<SourcedRecord>();
      let latest: SinkStats | undefined;
      let completed = false;
      running = logplexSink(input, { ...FAST, format: stubFormatter, events: (e) => events.push(e), postDeadlineMs: 300 }).subscribe({
        next: (s) => (latest = s),
        complete: () => (completed = true),
      });
      input.next(makeRecord(serve, 'patient'));
      await waitFor(() => received.length >= 2, 10_000, 'the trickled post to be failed and retried');
      input.complete();
      await waitFor(() => completed, 5000, 'the sink to finish');
      const stats = latest;
      expect(received[1]!.frameId).toBe(received[0]!.frameId);
      expect(received[1]!.body).toBe(received[0]!.body);
      expect(events.filter((e) => e.kind === 'post_failed')).toEqual([
        expect.objectContaining({ code: 'LOGPLEX_TIMEOUT', cause: 'POST_DEADLINE', will_retry: true, attempt: 1 }),
      ]);
      expect(stats).toMatchObject({ requestsOk: 1, requestsRetried: 1, lost: 0, framesOut: 1 });
    } finally {
      running?.unsubscribe(); // a failed wait must not leave the sink's timers holding jest open
      for (const t of trickles) clearInterval(t);
      trickler.closeAllConnections();
      await new Promise<void>((r) => trickler.close(() => r()));
    }
  });

  it('gives up after maxAttempts against a dead port and counts the frames lost, and the notice of their loss', async () => {
    const port = await deadPort();
    const serve = makeServe(`http://127.0.0.1:${port}/logs`);
    const { stats, events } = await runSink([makeRecord(serve, 'a'), makeRecord(serve, 'b')], {
      retry: { ...FAST.retry, maxAttempts: 3 },
    });
    // The records' batch, then the lane's last batch announcing their loss: nothing can follow
    // that one to announce it again, so its notice counts as lost too.
    expect(stats).toMatchObject({ requestsOk: 0, requestsRetried: 4, requestsFailed: 2, lost: 3, queuedBytes: 0 });
    const failed = events.filter((e) => e.kind === 'post_failed');
    expect(failed.map((e) => [e.code, e.attempt, e.will_retry, e.frames])).toEqual([
      ['LOGPLEX_CONNECTION', 1, true, 2],
      ['LOGPLEX_CONNECTION', 2, true, 2],
      ['LOGPLEX_CONNECTION', 3, false, 2],
      ['LOGPLEX_CONNECTION', 1, true, 1],
      ['LOGPLEX_CONNECTION', 2, true, 1],
      ['LOGPLEX_CONNECTION', 3, false, 1],
    ]);
    expect(events.filter((e) => e.kind === 'batch_lost')).toEqual([
      expect.objectContaining({ reason: 'max_attempts', attempts: 3, frames: 2 }),
      expect.objectContaining({ reason: 'max_attempts', attempts: 3, frames: 1 }),
    ]);
  });

  it('drops at the buffer cap while logplex is down, then announces the exact count', async () => {
    const port = await deadPort();
    const serve = makeServe(`http://127.0.0.1:${port}/logs`);
    const frameBytes = stubFrames(makeRecord(serve, 'fill 0')).bytes.length;
    const events: SinkEvent[] = [];
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    const done = lastValueFrom(
      logplexSink(input, {
        ...FAST,
        format: stubFormatter,
        events: (e) => events.push(e),
        bufferCapBytes: 5 * frameBytes, // exactly the five `fill` records
        retry: { ...FAST.retry, maxAttempts: 10_000 },
      }).pipe(tap((s) => (latest = s))),
    );
    for (const t of lines(5, 'fill')) input.next(makeRecord(serve, t));
    await waitFor(() => events.some((e) => e.kind === 'post_failed'), 3000, 'the first batch to be failing');
    for (const t of lines(17, 'overflow')) input.next(makeRecord(serve, t));
    const started = events.filter((e) => e.kind === 'drop');
    expect(started).toEqual([expect.objectContaining({ phase: 'started', count: 1, serve: 'BLUE', socket: '/run/test/a.sock' })]);

    const revived = await server(() => 204, port); // logplex is back on the same port
    // No record comes to carry the count: it goes out alone, within a flush interval of the
    // drops, retried with the records' batch until logplex is back (in either order).
    await waitFor(() => latest?.framesOut === 6 && latest.queuedBytes === 0, 3000, 'the batch and the notice to be delivered');
    const bodies = revived.received.map((r) => r.frames.map(msgOf));
    expect(bodies).toContainEqual(lines(5, 'fill'));
    const since = started[0]!.since as string;
    const notice = revived.received.find((r) => r.frames.length === 1)!;
    expect(notice.frames.map(msgOf)).toEqual([`Error L10 (output buffer overflow): 17 messages dropped since ${since.slice(0, 19)}+00:00.`]);
    expect(notice.headers['logplex-drop-count']).toBe('17');
    input.next(makeRecord(serve, 'after'));
    input.complete();
    const stats = await done;

    expect(revived.received.at(-1)!.frames.map(msgOf)).toEqual(['after']);
    expect(revived.received.at(-1)!.headers['logplex-drop-count']).toBeUndefined();
    expect(stats).toMatchObject({ recordsIn: 23, dropped: 17, lost: 0, framesOut: 7, queuedBytes: 0 });
    expect(events.filter((e) => e.kind === 'drop').map((e) => [e.phase, e.count])).toEqual([
      ['started', 1],
      ['announced', 17],
    ]);
  });

  it('sends pending drop counts in a last notice-only batch when the input ends', async () => {
    const s = await server((_req, i) => (i === 0 ? 'hang' : 204));
    const serve = makeServe(s.url);
    const frameBytes = stubFrames(makeRecord(serve, 'fill 0')).bytes.length;
    const input = new Subject<SourcedRecord>();
    const done = lastValueFrom(
      logplexSink(input, { ...FAST, format: stubFormatter, bufferCapBytes: 2 * frameBytes, headersTimeoutMs: 150 }),
    );
    for (const t of lines(2, 'fill')) input.next(makeRecord(serve, t));
    await waitFor(() => s.received.length === 1, 3000, 'the first (hanging) post');
    for (const t of lines(4, 'overflow')) input.next(makeRecord(serve, t)); // after the batch formed: nothing left to carry the count
    input.complete();
    const stats = await done;
    expect(stats).toMatchObject({ dropped: 4, lost: 0, requestsOk: 2 });
    const bodies = s.received.map((r) => r.frames.map(msgOf));
    expect(bodies).toContainEqual(['fill 0', 'fill 1']);
    expect(bodies).toContainEqual([expect.stringMatching(/^Error L10 \(output buffer overflow\): 4 messages dropped since /)]);
  });
});

describe('logplexSink: serves that go quiet', () => {
  it('retires a serve idle for laneIdleMs: its counts stay in the totals, and its next line opens a new lane', async () => {
    // undici loads on the first post (100-250 ms on a busy machine, more on Node 24 and 26):
    // loaded now, so that the first delivery below is not two idle periods long.
    undiciPool();
    const s = await server();
    const a = makeServe(s.url, { socketPath: '/run/a.sock', name: 'A' });
    const b = makeServe(s.url, { socketPath: '/run/b.sock', name: 'B' });
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    const done = lastValueFrom(
      logplexSink(input, { ...FAST, format: stubFormatter, laneIdleMs: 100 }).pipe(tap((st) => (latest = st))),
    );
    const sockets = (): string[] => (latest?.serves ?? []).map((x) => x.socketPath).sort();
    input.next(makeRecord(a, 'a 1'));
    input.next(makeRecord(b, 'b 1'));
    await waitFor(() => latest?.framesOut === 2, 15_000, 'both delivered');
    expect(sockets()).toEqual(['/run/a.sock', '/run/b.sock']);
    // B keeps talking, A goes quiet: after one to two idle periods only A is retired.
    for (let i = 2; i <= 8; i++) {
      input.next(makeRecord(b, `b ${i}`));
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    // Snapshots come at most every statsIntervalMs, so B's last post may show a moment later.
    await waitFor(() => sockets().length === 1 && latest?.framesOut === 9, 15_000, 'A to be retired and B delivered');
    expect(sockets()).toEqual(['/run/b.sock']);
    expect(latest).toMatchObject({ recordsIn: 9, framesOut: 9 }); // A's counts are still in the totals
    input.next(makeRecord(a, 'a 2'));
    input.complete();
    const stats = await done;
    expect(stats).toMatchObject({ recordsIn: 10, framesOut: 10, requestsFailed: 0 });
    expect(stats.serves.find((x) => x.socketPath === '/run/a.sock')).toBeUndefined(); // the sink ended: every lane closed
    expect(s.received.flatMap((r) => r.frames.map(msgOf)).sort()).toEqual(['a 1', 'a 2', ...Array.from({ length: 8 }, (_, i) => `b ${i + 1}`)].sort());
  }, 60_000);

  it('leaves no timer behind when unsubscribed, so its process can exit', () => {
    // A child process: a lane's idle timer (laneIdleMs, 10 minutes by default) that outlived the
    // sink would keep it alive. (groupBy keeps its source, and the timers under it, while a
    // duration selector subscribes to the group.)
    const script = `
      const { createServer } = require('node:http');
      const { Subject } = require('rxjs');
      const { logplexSink } = require(${JSON.stringify(resolve(__dirname, '../../dist/sink'))});
      const { Secret } = require(${JSON.stringify(resolve(__dirname, '../../dist/secret'))});
      const hung = createServer((req) => req.resume()); // never answers: the post is in flight when we stop
      hung.listen(0, '127.0.0.1', () => {
        const url = 'http://127.0.0.1:' + hung.address().port + '/logs';
        const serve = { identity: 'x', socketPath: '/s', name: 'A', target: { url, user: 'token', token: new Secret('t.x') } };
        const input = new Subject();
        const sub = logplexSink(input, { flushIntervalMs: 10, laneIdleMs: 60000 }).subscribe();
        input.next({ serve, message: { type: 'L', record: { ErrMessage: 'hi', SeqNum: 1, Pid: 1, LogTime: '2026-11-26 01:00:00.000 UTC', ErrDetail: null, ErrHint: null, InternalQuery: null, ErrContext: null, FileErrPos: null, UserQuery: null }, severity: { name: 'LOG', label: 'LOG' } }, receivedAt: Date.now() });
        setTimeout(() => { sub.unsubscribe(); hung.closeAllConnections(); hung.close(); }, 200);
      });
    `;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['-e', script], { cwd: resolve(__dirname, '../..'), timeout: 20_000, encoding: 'utf8' });
    expect(child.error).toBeUndefined(); // not killed by the timeout
    expect(child.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('logplexSink: secrets', () => {
  it('never puts tokens or URL passwords in events or stats', async () => {
    const token = 't.ultra-secret-0123';
    const password = 'hunter2-password';
    const s = await server((req) => (req.headers.authorization?.includes(Buffer.from(`token:${token}`).toString('base64')) ? 401 : 503));
    const port = await deadPort();
    const tServe = makeServe(s.url, { token, socketPath: '/run/t.sock' });
    const urlServe = makeServe(`http://127.0.0.1:${port}/logs`, { user: 'alice', token: password, socketPath: '/run/u.sock' });
    const frameBytes = stubFrames(makeRecord(tServe, 'line 0')).bytes.length;
    const statsSeen: SinkStats[] = [];
    const events: SinkEvent[] = [];
    const input = new Subject<SourcedRecord>();
    const done = new Promise<void>((resolve, reject) =>
      logplexSink(input, {
        ...FAST,
        format: stubFormatter,
        events: (e) => events.push(e),
        bufferCapBytes: 3 * frameBytes,
        retry: { ...FAST.retry, maxAttempts: 3 },
      }).subscribe({ next: (st) => statsSeen.push(st), complete: resolve, error: reject }),
    );
    for (const t of lines(6)) {
      input.next(makeRecord(tServe, t));
      input.next(makeRecord(urlServe, t));
    }
    input.complete();
    await done;
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(['post_failed', 'batch_lost', 'drop']));
    const dump = JSON.stringify({ events, statsSeen });
    for (const secret of [token, password, Buffer.from(`token:${token}`).toString('base64'), Buffer.from(`alice:${password}`).toString('base64')]) {
      expect(dump).not.toContain(secret);
    }
    expect(dump).toContain('/run/t.sock'); // the dump is not trivially empty
  });
});

describe('logplexSink: many serves at once', () => {
  it('coalesces stats snapshots (each copies every serve) rather than taking one per batch, and the last is complete', async () => {
    // Before, every batch formed and settled and every lane closed published a snapshot of all
    // live serves: quadratic in the serves (10,000 serves with a record each took 87 s to end).
    const s = await server();
    const serves = Array.from({ length: 500 }, (_, i) => makeServe(s.url, { socketPath: `/run/many/${i}.sock`, name: `S${i}`, token: `t.many-${i}` }));
    const input = new Subject<SourcedRecord>();
    let snapshots = 0;
    const done = lastValueFrom(
      logplexSink(input, { ...FAST, format: stubFormatter }).pipe(tap(() => (snapshots += 1))),
    );
    for (const serve of serves) input.next(makeRecord(serve, serve.name ?? ''));
    await waitFor(() => s.received.length === serves.length, 50_000, 'every serve delivered');
    input.complete();
    const stats = await done;
    expect(stats).toMatchObject({ recordsIn: 500, framesOut: 500, requestsOk: 500, requestsFailed: 0 });
    expect(snapshots).toBeLessThan(serves.length); // one per batch formed, settled and lane closed: 1,500 before
  }, 60_000);

  it('keeps at most maxPostsInFlight first tries in flight across every serve; the rest wait on their ledgers and all are delivered', async () => {
    const s = await server();
    const serves = Array.from({ length: 12 }, (_, i) => makeServe(s.url, { socketPath: `/run/slots/${i}.sock`, name: `S${i}`, token: `t.slots-${i}` }));
    // The real client, its requests counted while they are under way.
    const client = new LogplexClient(resolveSinkOptions(FAST));
    let inFlight = 0;
    let most = 0;
    const transport: PostTransport = {
      send: async (post, signal) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await client.send(post, signal);
        } finally {
          inFlight -= 1;
        }
      },
      close: () => client.close(),
      destroy: () => client.destroy(),
    };
    // All twelve batches are formed together, at the end of the input.
    const { stats } = await runSink(
      serves.map((serve) => makeRecord(serve, serve.name ?? '')),
      { transport, maxPostsInFlight: 3 },
    );
    expect(most).toBe(3);
    expect(stats).toMatchObject({ recordsIn: 12, framesOut: 12, requestsOk: 12, queuedBytes: 0 });
    expect(new Set(s.received.map((r) => msgOf(r.frames[0] ?? '')))).toEqual(new Set(serves.map((x) => x.name)));
  });

  it('hands post slots round the serves in turn: a serve with many batches queued delays one with a single batch by one post', async () => {
    const s = await server();
    const busy = makeServe(s.url, { socketPath: '/run/turns/a.sock', name: 'A', token: 't.turns-a' });
    const quiet = [makeServe(s.url, { socketPath: '/run/turns/b.sock', name: 'B', token: 't.turns-b' }), makeServe(s.url, { socketPath: '/run/turns/c.sock', name: 'C', token: 't.turns-c' })];
    const records = [...lines(6, 'A').map((t) => makeRecord(busy, t)), ...quiet.map((serve) => makeRecord(serve, serve.name ?? ''))];
    // One slot, a batch per record: every post waits for the one before it to be answered.
    await runSink(records, { maxPostsInFlight: 1, maxBatchFrames: 1, concurrency: 4 });
    // A's first post takes the slot; A (its next batch), B and C wait in line, each for one post,
    // and A goes to the back after each of its own.
    expect(s.received.map((r) => msgOf(r.frames[0] ?? ''))).toEqual(['A 0', 'A 1', 'B', 'C', 'A 2', 'A 3', 'A 4', 'A 5']);
  });
});
