// Two collectors embedded in one process, each with its own serve database, sockets in one
// directory: they share nothing. Stopping one leaves the other delivering; neither takes the
// other's sockets for its own.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { createCollector, type Collector, type CollectorEvent } from '../../src';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import { startLogplexStandIn, type LogplexStandIn } from '../../src/tools/logplexStandIn';

const TOKEN_A = 't.5ca1ab1e-0000-4000-8000-0000000000aa';
const TOKEN_B = 't.5ca1ab1e-0000-4000-8000-0000000000bb';

describe('two collectors in one process', () => {
  let tmp: string;
  let standIn: LogplexStandIn;
  const running: Collector[] = [];
  beforeEach(async () => {
    tmp = mkdtempSync('/tmp/plc-two-');
    standIn = await startLogplexStandIn();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
    await standIn.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A collector whose serve database (its own directory) starts with `serves`. */
  function collector(name: string, serves: ReadonlyArray<Record<string, string>>): { collector: Collector; events: CollectorEvent[] } {
    const db = join(tmp, `db-${name}`);
    mkdirSync(db);
    writeFileSync(join(db, 'serves.loaded'), JSON.stringify({ serves }));
    const c = createCollector({ serveDbDir: db, logplexUrl: standIn.url, sink: { flushIntervalMs: 20 }, source: { listenRetryMs: 50 } });
    running.push(c);
    const events: CollectorEvent[] = [];
    c.event$.subscribe((e) => events.push(e));
    return { collector: c, events };
  }

  const delivered = async (token: string, frames: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while ((standIn.stats().framesByToken[token] ?? 0) < frames) {
      if (Date.now() > deadline) throw new Error(`${frames} frames for a token not delivered in time`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('stop one, the other keeps delivering; sockets side by side in one directory', async () => {
    const sockets = join(tmp, 'sockets');
    mkdirSync(sockets);
    const a = collector('a', [{ i: 'app-a', t: TOKEN_A, p: join(sockets, 'a.sock') }]);
    const b = collector('b', [{ i: 'app-b', t: TOKEN_B, p: join(sockets, 'b.sock') }]);
    await Promise.all([a.collector.start(), b.collector.start()]);

    await runEmulator({ socketPath: join(sockets, 'a.sock'), identity: 'app-a', connections: 1, recordsPerConnection: 10 });
    await runEmulator({ socketPath: join(sockets, 'b.sock'), identity: 'app-b', connections: 1, recordsPerConnection: 10 });
    await delivered(TOKEN_A, 10);
    await delivered(TOKEN_B, 10);

    await a.collector.stop();
    expect(existsSync(join(sockets, 'a.sock'))).toBe(false);
    expect(existsSync(join(sockets, 'b.sock'))).toBe(true);
    await runEmulator({ socketPath: join(sockets, 'b.sock'), identity: 'app-b', connections: 1, recordsPerConnection: 10 });
    await delivered(TOKEN_B, 20);
    expect(b.events.filter((e) => e.level === 'error')).toEqual([]);
  });

  it("never takes the other's socket for one of its own", async () => {
    const sockets = join(tmp, 'sockets');
    mkdirSync(sockets);
    symlinkSync(sockets, join(tmp, 'also-sockets')); // another path to the same directory
    const a = collector('a', [{ i: 'app-a', t: TOKEN_A, p: join(sockets, 'shared.sock') }]);
    await a.collector.start();
    const b = collector('b', [{ i: 'app-b', t: TOKEN_B, p: join(tmp, 'also-sockets', 'shared.sock') }]);
    await b.collector.start();

    // The socket is a's: to b it is a live listener like any other process's, and nothing of a's
    // configuration (its serve's path) shows in b's log.
    expect(b.events.filter((e) => e.kind === 'listen_error')).toEqual([expect.objectContaining({ code: 'LISTEN_IN_USE' })]);
    expect(JSON.stringify(b.events)).not.toContain(join(sockets, 'shared.sock'));

    const listening = firstValueFrom(b.collector.event$.pipe(filter((e) => e.kind === 'listening')));
    await a.collector.stop(); // a's socket goes; b's retry takes the path
    await listening;
    await runEmulator({ socketPath: join(sockets, 'shared.sock'), identity: 'app-b', connections: 1, recordsPerConnection: 5 });
    await delivered(TOKEN_B, 5);
  });
});
