// createCollector as another Node app embeds it: real serve database directory, real socket,
// the stand-in as logplex, and the observables the README documents.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { filter, firstValueFrom, lastValueFrom, VirtualTimeScheduler } from 'rxjs';
import { createCollector, ServeDbError, type Collector, type CollectorEvent, type CollectorStats, type SourcedRecord } from '../../src';
import { FormatError } from '../../src/format';
import { SinkOptionsError } from '../../src/sink';
import { Secret } from '../../src/secret';
import type { SpooledBatch } from '../../src/spool/format';
import { resolveSpoolOptions } from '../../src/spool/options';
import { SpoolStore } from '../../src/spool/store';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import { startLogplexStandIn, type LogplexStandIn } from '../../src/tools/logplexStandIn';

const TOKEN = 't.5ca1ab1e-0000-4000-8000-000000000002';

describe('createCollector (the library API)', () => {
  let tmp: string;
  let standIn: LogplexStandIn;
  let running: Collector | undefined; // stopped after each test even when it failed midway
  let spawned: ChildProcess | undefined; // killed after each test even when it failed midway
  beforeEach(async () => {
    tmp = mkdtempSync('/tmp/plc-c-');
    standIn = await startLogplexStandIn();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    spawned?.kill('SIGKILL');
    spawned = undefined;
    await standIn.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('runs end to end and exposes records, events and stats', async () => {
    const collector = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url, sink: { flushIntervalMs: 20 } });
    running = collector;
    const records: SourcedRecord[] = [];
    const events: CollectorEvent[] = [];
    let stats: CollectorStats | undefined;
    collector.record$.subscribe((r) => records.push(r));
    collector.event$.subscribe((e) => events.push(e));
    collector.stats$.subscribe((s) => (stats = s));
    const eventsDone = new Promise<void>((done) => collector.event$.subscribe({ complete: done }));

    await collector.start();
    const socket = join(tmp, 'pg.sock');
    writeFileSync(join(tmp, 'tmp.json'), JSON.stringify({ serves: [{ i: 'app', t: TOKEN, p: socket, name: 'GREEN' }] }));
    renameSync(join(tmp, 'tmp.json'), join(tmp, 'serves.new'));
    await firstValueFrom(collector.serveSet$.pipe(filter((set) => set.length === 1)));
    await firstValueFrom(collector.event$.pipe(filter((e) => e.kind === 'listening')));
    // Said first, then applied, then copied durably to serves.loaded.
    await waitUntil(() => events.some((e) => e.kind === 'serves_accepted'));

    const report = await runEmulator({ socketPath: socket, identity: 'app', connections: 2, recordsPerConnection: 25 });
    expect(report.sent).toBe(50);
    await firstValueFrom(collector.stats$.pipe(filter((s) => s.recordsIn === 50 && s.queuedBytes === 0 && s.connections === 0)));

    expect(records).toHaveLength(50);
    expect(records.every((r) => r.serve.name === 'GREEN' && r.message.type === 'L')).toBe(true);
    expect(stats).toMatchObject({ recordsIn: 50, dropped: 0, lost: 0, requestsFailed: 0, queuedFrames: 0 });
    expect(stats?.requestsOk).toBeGreaterThan(0);
    expect(standIn.stats().framesByToken[TOKEN]).toBe(stats?.framesOut);
    const kinds = events.map((e) => e.kind);
    for (const kind of ['started', 'serves_accepted', 'listening', 'connect', 'disconnect']) expect(kinds).toContain(kind);
    expect(JSON.stringify({ events, stats })).not.toContain(TOKEN);

    await collector.stop();
    await eventsDone; // every observable completes after stop()
    expect(events.at(-1)).toMatchObject({ kind: 'stopped', delivered_all: true });
    expect(events.at(-1)).not.toHaveProperty('spooled_batches'); // no spool, nothing to say
  });

  it('with a spool, keeps what logplex refused through a stop and delivers it at the next start', async () => {
    const spoolDir = join(tmp, 'spool');
    const first = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url, sink: { flushIntervalMs: 20 }, spool: { dir: spoolDir, minFreeBytes: 0, minFreeRatio: 0 } });
    running = first;
    const events: CollectorEvent[] = [];
    first.event$.subscribe((e) => events.push(e));
    await first.start();
    const socket = join(tmp, 'pg.sock');
    writeFileSync(join(tmp, 'tmp.json'), JSON.stringify({ serves: [{ i: 'app', t: TOKEN, p: socket, name: 'GREEN' }] }));
    renameSync(join(tmp, 'tmp.json'), join(tmp, 'serves.new'));
    await firstValueFrom(first.event$.pipe(filter((e) => e.kind === 'listening')));
    await standIn.setMode({ kind: 'down' });
    await runEmulator({ socketPath: socket, identity: 'app', connections: 2, recordsPerConnection: 25 });
    const held = await firstValueFrom(first.stats$.pipe(filter((s) => s.recordsIn === 50 && s.queuedBytes === 0 && s.spoolBatches > 0 && s.connections === 0)));
    expect(held).toMatchObject({ dropped: 0, lost: 0, framesOut: 0 });
    await first.stop();
    // What waits on disk is said where the stop is: not lost, not delivered yet.
    expect(events.find((e) => e.kind === 'stopped')).toMatchObject({ delivered_all: true, spooled_batches: held.spoolBatches, spooled_bytes: held.spoolBytes });

    await standIn.setMode({ kind: 'up' });
    const second = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url, sink: { flushIntervalMs: 20 }, spool: { dir: spoolDir, minFreeBytes: 0, minFreeRatio: 0 } });
    running = second;
    second.event$.subscribe((e) => events.push(e));
    await second.start();
    const done = await firstValueFrom(second.stats$.pipe(filter((s) => s.framesOut === held.framesIn && s.spoolBatches === 0)));
    expect(done.spoolBytes).toBe(0);
    expect(standIn.stats().framesByToken[TOKEN]).toBe(held.framesIn);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_recovered', serve: 'GREEN', socket, skipped_bytes: 0 }));
    expect(JSON.stringify(events)).not.toContain(TOKEN);
  });

  it('refuses bad options when created, before anything starts', () => {
    expect(() => createCollector({ serveDbDir: tmp, format: { linePrefix: '%Z ' } })).toThrow(FormatError);
    expect(() => createCollector({ serveDbDir: tmp, sink: { concurrency: 0 } })).toThrow(SinkOptionsError);
  });

  it('rejects start() with a ServeDbError for a missing serve database', async () => {
    const collector = createCollector({ serveDbDir: join(tmp, 'missing') });
    await expect(collector.start()).rejects.toThrow(ServeDbError);
  });

  it('rejects start() with a SpoolOpenError for a spool that cannot be used, starts nothing and lets the serve database go', async () => {
    writeFileSync(join(tmp, 'file'), '');
    const collector = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url, spool: { dir: join(tmp, 'file/spool') } });
    const events: CollectorEvent[] = [];
    collector.event$.subscribe((e) => events.push(e));
    await expect(collector.start()).rejects.toMatchObject({ name: 'SpoolOpenError', code: 'SPOOL_DIR_UNUSABLE' });
    expect(events.map((e) => e.kind)).not.toContain('started');
    running = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url });
    await running.start(); // the serve database's lock was let go
  });

  it("keeps the stop's deadline on the collector's scheduler: not one virtual ms early", async () => {
    await standIn.setMode({ kind: 'hang' }); // logplex reads every post and never answers
    const vt = new VirtualTimeScheduler();
    const advance = (ms: number): void => {
      vt.maxFrames = vt.now() + ms;
      vt.flush();
      vt.frame = vt.maxFrames;
    };
    const socket = join(tmp, 'pg.sock');
    writeFileSync(join(tmp, 'serves.loaded'), JSON.stringify({ serves: [{ i: 'app', t: TOKEN, p: socket, name: 'GREEN' }] }), { mode: 0o600 });
    // A minute of virtual time to stop in; the post never times out before it (the deadline alone ends the stop).
    const collector = createCollector({
      serveDbDir: tmp,
      logplexUrl: standIn.url,
      shutdownTimeoutMs: 60_000,
      sink: { flushIntervalMs: 100, postDeadlineMs: 600_000 },
      source: { readIntervalMs: 0, listenSliceMs: 0 },
      scheduler: vt,
    });
    running = collector;
    const events: CollectorEvent[] = [];
    let records = 0;
    collector.event$.subscribe((e) => events.push(e));
    collector.record$.subscribe(() => (records += 1));
    await collector.start();
    await runEmulator({ socketPath: socket, identity: 'app', recordsPerConnection: 5 });
    await waitUntil(() => records === 5);
    advance(100); // the batch is formed and posted, and logplex never answers
    await waitUntil(() => standIn.stats().hanging > 0);

    let stopped = false;
    const stopping = collector.stop().then(() => (stopped = true));
    await waitUntil(() => events.some((e) => e.kind === 'stopping'));
    advance(59_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.some((e) => e.kind === 'shutdown_timeout')).toBe(false);
    advance(1);
    await waitUntil(() => events.some((e) => e.kind === 'shutdown_timeout'));
    advance(0);
    await stopping;
    expect(stopped).toBe(true);
    expect(events.at(-1)).toMatchObject({ kind: 'stopped', delivered_all: false, duration_ms: 60_000 });
  });

  it('a shutdown timeout says how many lines each serve abandoned, not only bytes', async () => {
    await standIn.setMode({ kind: 'hang' }); // logplex reads every post and never answers
    const collector = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url, shutdownTimeoutMs: 300 });
    running = collector;
    const events: CollectorEvent[] = [];
    collector.event$.subscribe((e) => events.push(e));
    await collector.start();
    const green = join(tmp, 'green.sock');
    const red = join(tmp, 'red.sock');
    writeFileSync(
      join(tmp, 'tmp.json'),
      JSON.stringify({ serves: [{ i: 'g', t: TOKEN, p: green, name: 'GREEN' }, { i: 'r', t: TOKEN, p: red, name: 'RED' }] }),
    );
    renameSync(join(tmp, 'tmp.json'), join(tmp, 'serves.new'));
    await waitUntil(() => events.filter((e) => e.kind === 'listening').length === 2);
    await runEmulator({ socketPath: green, identity: 'g', recordsPerConnection: 30 });
    await runEmulator({ socketPath: red, identity: 'r', recordsPerConnection: 20 });
    const stats = await firstValueFrom(collector.stats$.pipe(filter((s) => s.recordsIn === 50 && s.requestsOk === 0)));
    const framesOf = (name: string): number => stats.serves.find((s) => s.name === name)?.framesIn ?? -1;

    await collector.stop();
    const timeout = events.find((e) => e.kind === 'shutdown_timeout');
    expect(timeout).toMatchObject({ queued_lines: framesOf('GREEN') + framesOf('RED'), queued_bytes: expect.any(Number) });
    const abandoned = events.filter((e) => e.kind === 'lines_abandoned');
    expect(abandoned).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 'error', serve: 'GREEN', socket: green, lines: framesOf('GREEN'), bytes: expect.any(Number) }),
        expect.objectContaining({ level: 'error', serve: 'RED', socket: red, lines: framesOf('RED'), bytes: expect.any(Number) }),
      ]),
    );
    expect(abandoned).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ kind: 'stopped', delivered_all: false });
  });

  it('stop() while start() is pending closes the serve database watch: the process exits on its own', async () => {
    // A child process as an embedder writes it: start(), stop() at once, await both. Whatever
    // start() opened (the chokidar watch, timers) must be closed, or node never exits.
    const script = join(tmp, 'early-stop.js');
    writeFileSync(
      script,
      `const { createCollector } = require(${JSON.stringify(resolve(__dirname, '../../dist'))});
const c = createCollector({ serveDbDir: ${JSON.stringify(tmp)} });
const kinds = [];
c.event$.subscribe((e) => kinds.push(e.kind));
Promise.all([c.start(), c.stop()]).then(() => process.stdout.write(kinds.join(',')));`,
    );
    const child = (spawned = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    // Bounded by the test's timeout: before the fix the watch kept node alive for ever.
    expect(await exited).toBe(0);
    expect(out.split(',')).toEqual(['stopping', 'stopped']);
  });

  it('stop() while the spool is still opening closes the store once it has opened', async () => {
    // A spool left by an earlier run: opening it reads it back, and says so (spool_recovered)
    // before the store is open, which is when this stop comes.
    const spoolDir = join(tmp, 'spool');
    const spoolOptions = resolveSpoolOptions({ dir: spoolDir, minFreeBytes: 0, minFreeRatio: 0 });
    const earlier = await SpoolStore.open(spoolOptions, () => undefined);
    await lastValueFrom(earlier.serve('/run/earlier.sock').append(aSpooledBatch('/run/earlier.sock')));
    await earlier.close();

    const opened: SpoolStore[] = [];
    const realOpen = SpoolStore.open.bind(SpoolStore);
    const open = jest.spyOn(SpoolStore, 'open').mockImplementation(async (...args) => {
      const store = await realOpen(...args);
      opened.push(store);
      return store;
    });
    const close = jest.spyOn(SpoolStore.prototype, 'close');
    try {
      const collector = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url, spool: { dir: spoolDir, minFreeBytes: 0, minFreeRatio: 0 } });
      let stopped: Promise<void> | undefined;
      collector.event$.subscribe((e) => {
        if (e.kind === 'spool_recovered') stopped ??= collector.stop();
      });
      await collector.start();
      await waitUntil(() => stopped !== undefined);
      await stopped;
      expect(opened).toHaveLength(1);
      // Before, stop() found no store yet, and the one that opened afterwards kept its sync timer.
      expect(close.mock.contexts).toContain(opened[0]);
    } finally {
      open.mockRestore();
      close.mockRestore();
    }
  });

  it('is importable by package name, as embedders do (built dist/)', () => {
    const root = resolve(__dirname, '../..');
    const out = execFileSync(process.execPath, ['-e', "process.stdout.write(typeof require('pg-logplexcollector').createCollector)"], {
      cwd: root,
    });
    expect(out.toString()).toBe('function');
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A batch as an earlier run left it in the spool. */
function aSpooledBatch(socketPath: string): SpooledBatch {
  return {
    serve: { socketPath, identity: 'i', name: 'EARLIER', target: { url: 'http://127.0.0.1:1/logs', user: 'token', token: new Secret('t.earlier') } },
    body: Buffer.from('5 hello'),
    gzipped: false,
    frameCount: 1,
    logFrames: 1,
    dropCount: 0,
    lostCount: 0,
    createdAtMs: Date.now(),
  };
}
