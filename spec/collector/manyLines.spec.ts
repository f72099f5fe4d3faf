// Issue 14, item 3: one record of many short lines must not hold the event loop. Any SQL author
// can log `"a\n"` × 524,288 (inside the 1 MiB record cap) with `log_statement = all`; when every
// line became a frame, each such record took 1.1-1.8 s of one core in one go, and no other
// tenant's socket was read meanwhile. Real sockets, the real sink and the logplex stand-in.
import { performance } from 'node:perf_hooks';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { createCollector, type Collector, type CollectorEvent } from '../../src';
import { startLogplexStandIn, type LogplexStandIn } from '../../src/tools/logplexStandIn';
import { FakeBackend, record, sleep, waitFor } from '../source/support';

// One frame a record (no LOCATION part), so frames delivered count records.
const oneLine = (pid: number, seq: number, message?: string) => ({ ...record(pid, seq, message), FileErrPos: null });

const NOISY = 't.5ca1ab1e-0000-4000-8000-00000000000a';
const QUIET = 't.5ca1ab1e-0000-4000-8000-00000000000b';

describe('a record of many short lines', () => {
  let tmp: string;
  let standIn: LogplexStandIn;
  let running: Collector | undefined;
  beforeEach(async () => {
    tmp = mkdtempSync('/tmp/plc-ml-');
    standIn = await startLogplexStandIn();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await standIn.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('holds the event loop briefly, and another tenant keeps flowing', async () => {
    const collector = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url, sink: { flushIntervalMs: 20 } });
    running = collector;
    const events: CollectorEvent[] = [];
    collector.event$.subscribe((e) => events.push(e));
    await collector.start();
    const noisySock = join(tmp, 'noisy.sock');
    const quietSock = join(tmp, 'quiet.sock');
    writeFileSync(
      join(tmp, 'tmp.json'),
      JSON.stringify({ serves: [{ i: 'noisy', t: NOISY, p: noisySock, name: 'NOISY' }, { i: 'quiet', t: QUIET, p: quietSock, name: 'QUIET' }] }),
    );
    renameSync(join(tmp, 'tmp.json'), join(tmp, 'serves.new'));
    await firstValueFrom(collector.serveSet$.pipe(filter((set) => set.length === 2)));
    await waitFor('both listening', () => events.filter((e) => e.kind === 'listening').length === 2, 10_000);

    const noisy = await FakeBackend.open(noisySock, 'noisy');
    const quiet = await FakeBackend.open(quietSock, 'quiet');
    const statement = `statement: ${'a\n'.repeat(524_000)}`; // 1,048,011 bytes: inside the 1 MiB cap

    // Every gap between ticks of a 10 ms probe: a record that holds the loop shows as one long gap.
    const gaps: number[] = [];
    let lastTick = performance.now();
    const probe = setInterval(() => {
      const now = performance.now();
      gaps.push(now - lastTick);
      lastTick = now;
    }, 10);
    // The quiet tenant logs one record every few milliseconds all along.
    let quietSent = 0;
    let noisyDone = false;
    const quietLoop = (async () => {
      while (!noisyDone || quietSent < 20) {
        await quiet.send(oneLine(2, ++quietSent));
        await sleep(5);
      }
    })();
    for (let seq = 1; seq <= 10; seq++) await noisy.send(oneLine(1, seq, statement));
    await waitFor('the ten records read', () => standIn.stats().framesByToken[NOISY] !== undefined || events.some((e) => e.kind === 'drop'), 60_000);
    noisyDone = true;
    await quietLoop;
    await waitFor('every quiet record delivered', () => standIn.stats().framesByToken[QUIET] === quietSent, 30_000);
    clearInterval(probe);

    // Generous against a loaded 2-core machine (where the scheduler alone can stall a process for
    // a while): one such record held the loop for over a second (1.1-1.8 s), so ten records made
    // ten long gaps. Now a stall over 200 ms may happen once or twice, from the machine, not ten times.
    const stalls = gaps.filter((gap) => gap > 200).map(Math.round);
    expect({ stalls: stalls.length <= 2 ? 'at most 2' : stalls }).toEqual({ stalls: 'at most 2' });
    // Each noisy record arrives cut at the default bound, its last frame the marker.
    await waitFor('the noisy records delivered', () => (standIn.stats().framesByToken[NOISY] ?? 0) >= 10 * 1000, 30_000);
    expect(standIn.stats().framesByToken[NOISY]).toBe(10 * 1000);
    noisy.destroy();
    quiet.destroy();
  }, 120_000);
});
