// What start() and stop() promise an embedder: start() resolves once every serve of the first
// set listens or has failed with its reason; stats$ replays the last counters after stop().
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { filter, firstValueFrom, toArray } from 'rxjs';
import { createCollector, ServeDbError, type Collector, type CollectorEvent, type CollectorStats } from '../../src';
import { collectorOptions } from '../../src/daemon/main';
import { parseConfig } from '../../src/daemon/config';

const TOKEN = 't.5ca1ab1e-0000-4000-8000-00000000f1f0';

/** Connects to a unix socket and closes again: resolves when it accepted, rejects with the errno. */
function connectOnce(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

describe('the collector lifecycle', () => {
  let tmp: string;
  let running: Collector | undefined;
  beforeEach(() => {
    tmp = mkdtempSync('/tmp/plc-life-');
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('start() resolves once every serve of the first set listens or has failed, with `started` after them', async () => {
    const db = join(tmp, 'db');
    mkdirSync(db);
    const sockets = Array.from({ length: 40 }, (_, i) => join(tmp, `s${i}.sock`));
    const missing = join(tmp, 'no-such-dir', 'x.sock');
    const serves = [...sockets, missing].map((p, i) => ({ i: `id-${i}`, t: TOKEN, p }));
    writeFileSync(join(db, 'serves.loaded'), JSON.stringify({ serves }));
    // Slices of a millisecond: the sockets come up over several turns of the event loop.
    const collector = createCollector({ serveDbDir: db, logplexUrl: 'http://127.0.0.1:9/logs', source: { listenSliceMs: 1 } });
    running = collector;
    const events: CollectorEvent[] = [];
    collector.event$.subscribe((e) => events.push(e));

    await collector.start();

    await Promise.all(sockets.map(connectOnce)); // every one of them, at once: no ENOENT
    const listening = events.filter((e) => e.kind === 'listening').map((e) => (e.kind === 'listening' ? e.socket : ''));
    expect(listening.sort()).toEqual([...sockets].sort());
    expect(events.filter((e) => e.kind === 'listen_error')).toEqual([
      expect.objectContaining({ socket: missing, code: 'LISTEN_NO_DIRECTORY' }),
    ]);
    const kinds = events.map((e) => e.kind);
    expect(kinds.indexOf('started')).toBeGreaterThan(kinds.lastIndexOf('listening'));
    expect(kinds.indexOf('started')).toBeGreaterThan(kinds.indexOf('listen_error'));
  });

  it('start() resolves at once with an empty serve database', async () => {
    const collector = createCollector({ serveDbDir: tmp, logplexUrl: 'http://127.0.0.1:9/logs' });
    running = collector;
    const events: CollectorEvent[] = [];
    collector.event$.subscribe((e) => events.push(e));
    await collector.start();
    expect(events.map((e) => e.kind)).toContain('started');
  });

  it('a stop() while start() waits for the sockets ends the wait', async () => {
    const db = join(tmp, 'db');
    mkdirSync(db);
    const serves = Array.from({ length: 500 }, (_, i) => ({ i: `id-${i}`, t: TOKEN, p: join(tmp, `s${i}.sock`) }));
    writeFileSync(join(db, 'serves.loaded'), JSON.stringify({ serves }));
    const collector = createCollector({ serveDbDir: db, logplexUrl: 'http://127.0.0.1:9/logs', source: { listenSliceMs: 1 } });
    running = collector;
    const events: CollectorEvent[] = [];
    collector.event$.subscribe((e) => events.push(e));
    const started = collector.start();
    await firstValueFrom(collector.event$.pipe(filter((e) => e.kind === 'listening')));
    await Promise.all([started, collector.stop()]);
    expect(events.map((e) => e.kind)).not.toContain('started');
    expect(events.at(-1)).toMatchObject({ kind: 'stopped' });
  });

  it('stats$ replays the counters at the stop, then completes, to a subscriber after stop()', async () => {
    const collector = createCollector({ serveDbDir: tmp, logplexUrl: 'http://127.0.0.1:9/logs' });
    running = collector;
    await collector.start();
    await collector.stop();
    const after: CollectorStats[] = await firstValueFrom(collector.stats$.pipe(toArray()));
    expect(after).toEqual([expect.objectContaining({ recordsIn: 0, connections: 0, queuedBytes: 0 })]);
  });

  it("says what to fix in the caller's words: serveDbDir to an embedder, SERVE_DB_DIR to the daemon", async () => {
    const missing = join(tmp, 'nope');
    const embedded = await createCollector({ serveDbDir: missing, logplexUrl: 'http://127.0.0.1:9/logs' }).start().catch((e: unknown) => e);
    expect(embedded).toBeInstanceOf(ServeDbError);
    expect((embedded as Error).message).toBe(`serve database ${missing} does not exist: create it (mkdir -p ${missing}) or point serveDbDir at the right directory`);
    const daemon = createCollector(collectorOptions(parseConfig([], { SERVE_DB_DIR: missing }), missing));
    const fromDaemon = await daemon.start().catch((e: unknown) => e);
    expect((fromDaemon as Error).message).toContain('point SERVE_DB_DIR (--serve-db-dir) at the right directory');
  });

  it('says serves_accepted before the listening it causes: at start from serves.loaded, and on reload', async () => {
    const first = join(tmp, 'first.sock');
    const second = join(tmp, 'second.sock');
    writeFileSync(join(tmp, 'serves.loaded'), JSON.stringify({ serves: [{ i: 'a', t: TOKEN, p: first }] }));
    const collector = createCollector({ serveDbDir: tmp, logplexUrl: 'http://127.0.0.1:9/logs', serveDb: { watchEvents: false } });
    running = collector;
    const events: CollectorEvent[] = [];
    collector.event$.subscribe((e) => events.push(e));
    await collector.start();
    writeFileSync(join(tmp, 'next.json'), JSON.stringify({ serves: [{ i: 'a', t: TOKEN, p: first }, { i: 'b', t: TOKEN, p: second }] }));
    renameSync(join(tmp, 'next.json'), join(tmp, 'serves.new'));
    collector.reload();
    await firstValueFrom(collector.event$.pipe(filter((e) => e.kind === 'listening' && e.socket === second)));
    const story = events
      .filter((e) => e.kind === 'serves_accepted' || e.kind === 'listening' || e.kind === 'started')
      .map((e) => (e.kind === 'serves_accepted' ? `accepted ${e.file} ${e.reason}` : e.kind === 'listening' ? `listening ${e.socket}` : e.kind));
    expect(story).toEqual([`accepted serves.loaded start`, `listening ${first}`, 'started', `accepted serves.new rescan`, `listening ${second}`]);
  });

  it('answers a reload that finds no serves.new with serves_unchanged', async () => {
    const collector = createCollector({ serveDbDir: tmp, logplexUrl: 'http://127.0.0.1:9/logs', serveDb: { watchEvents: false } });
    running = collector;
    await collector.start();
    const answer = firstValueFrom(collector.event$.pipe(filter((e) => e.kind.startsWith('serves_'))));
    collector.reload();
    expect(await answer).toMatchObject({ kind: 'serves_unchanged', level: 'info', serves: 0, reason: 'rescan' });
  });
});
