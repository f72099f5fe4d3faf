// The last L10 notice at shutdown, as an operator meets it: a serve's token is
// wrong for a while, records are lost (401), the token is fixed, then SIGTERM. The notice of the
// loss must go out with the fixed token; when the tenant's logplex refuses it too, the daemon
// says so (batch_lost, refused_lines) and still exits 0: a revoked token is the tenant's to fix,
// not a failure of the collector. Black box: a child process, a real
// serve database, a real socket, the stand-in as logplex on 127.0.0.1 knowing one token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import type { DaemonProcess } from '../support/daemonProcess';
import { useDaemonBed } from '../support/daemonBed';
import { waitUntil } from '../support/waitUntil';

const GOOD = 't.600d0000-0000-4000-8000-000000000001';
const BAD = 't.bad00000-0000-4000-8000-000000000002';

describe('pg-logplexcollector: the notice of losses at shutdown', () => {
  const bed = useDaemonBed('plc-n', { tokens: [GOOD] });

  /** A daemon serving `socket` with the BAD token, after two of its records were refused. */
  async function loseTwo(socket: string, args: readonly string[]): Promise<DaemonProcess> {
    bed.writeServes([{ i: 'db1', t: BAD, p: socket, name: 'BLUE' }]);
    const d = bed.start(args);
    await d.waitFor('listening');
    await runEmulator({ socketPath: socket, identity: 'db1', connections: 1, recordsPerConnection: 2 });
    await d.waitFor('batch_lost', (l) => l.frames === '2' && l.status === '401');
    return d;
  }

  it('posts it with the fixed token, and exits 0', async () => {
    const socket = join(bed.dir, 'pg.sock');
    // Whether the notice goes out on its own once the token is fixed or with the last batch at
    // shutdown, it must go with the fixed token.
    const d = await loseTwo(socket, []);
    bed.writeServes([{ i: 'db1', t: GOOD, p: socket, name: 'BLUE' }]);
    await d.waitFor('serves_accepted', () => d.events('serves_accepted').length >= 2);
    // serves_accepted comes before the set is applied; serves.loaded is written after it.
    await waitUntil(() => readFileSync(join(bed.dir, 'serves.loaded'), 'utf8').includes(GOOD));
    d.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    const notices = bed.received.flatMap((b) => b.frames.map((f) => [b.token, f.appName, f.msg]));
    expect(notices).toEqual([[GOOD, GOOD, expect.stringMatching(/^Error L10 \(output buffer overflow\): 2 messages lost since /)]]);
    expect(d.events('stopped')).toEqual([expect.objectContaining({ delivered_all: 'true' })]);
    expect(d.lines.join('\n')).not.toContain(GOOD);
  });

  it("counts it lost and refused when the tenant's logplex refuses it, says so, and exits 0", async () => {
    const socket = join(bed.dir, 'pg.sock');
    const d = await loseTwo(socket, []);
    d.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(bed.received).toEqual([]);
    expect(d.events('batch_lost').map((l) => [l.frames, l.status])).toEqual([
      ['2', '401'],
      ['1', '401'],
    ]);
    expect(d.events('stopped')).toEqual([expect.objectContaining({ delivered_all: 'true', refused_lines: '3' })]);
  });
});
