// Issue 14, item 6, black box: the daemon under a low open-file limit (`ulimit -n 200`) while one
// serve is flooded with idle connections. It logs the limit at start; the flooded serve's
// connections past --max-connections are refused and said; another serve's records still arrive;
// and the serve database still reads a new serves.new. Before, the flood took every descriptor:
// libuv accepted and closed the other serve's connection without a word, its records were lost,
// and serves.new could not be read (EMFILE).
import { join } from 'node:path';
import { useDaemonBed } from '../support/daemonBed';
import { FakeBackend, record, waitFor } from '../source/support';

const FLOODED = 't.f100d000-0000-4000-8000-000000000001';
const QUIET = 't.f100d000-0000-4000-8000-000000000002';
const LATER = 't.f100d000-0000-4000-8000-000000000003';

describe('the daemon near its open-file limit', () => {
  const bed = useDaemonBed('plc-fd');
  const backends: FakeBackend[] = [];
  afterEach(() => {
    for (const b of backends.splice(0)) b.destroy();
  });

  it('logs the limit, refuses a flood past --max-connections, and keeps the other serve and the serve db working', async () => {
    const d = bed.start(['--max-connections', '100', '--fd-reserve', '64', '--flush-interval', '20ms'], { openFiles: 200 });
    const started = await d.waitFor('started');
    expect(started).toMatchObject({ open_files_limit: '200', fd_reserve: '64' });
    const flooded = join(bed.dir, 'flooded.sock');
    const quiet = join(bed.dir, 'quiet.sock');
    bed.writeServes([
      { i: 'flooded', t: FLOODED, p: flooded, name: 'FLOODED' },
      { i: 'quiet', t: QUIET, p: quiet, name: 'QUIET' },
    ]);
    await d.waitFor('listening', (l) => l.socket === flooded);
    await d.waitFor('listening', (l) => l.socket === quiet);

    // 250 idle connections on one serve: more than the daemon has descriptors.
    const flood: FakeBackend[] = [];
    for (let i = 0; i < 250; i++) {
      const b = new FakeBackend(flooded);
      flood.push(b);
      backends.push(b);
    }
    await waitFor('the flood past the cap closed', () => flood.filter((b) => b.isClosed).length >= 150, 20_000);
    const refused = await d.waitFor('connections_refused', (l) => l.serve === 'FLOODED');
    expect(refused).toMatchObject({ reason: 'max_connections', limit: '100', level: 'warn' });

    // Another tenant still gets its records through.
    const tenant = await FakeBackend.open(quiet, 'quiet');
    backends.push(tenant);
    await tenant.send(record(1, 1, 'one'), record(1, 2, 'two'), record(1, 3, 'three'));
    await waitFor('the quiet serve\'s records', () => (bed.standIn.stats().framesByToken[QUIET] ?? 0) >= 3, 20_000);

    // And the serve database still reads, applies and listens.
    const later = join(bed.dir, 'later.sock');
    bed.writeServes([
      { i: 'flooded', t: FLOODED, p: flooded, name: 'FLOODED' },
      { i: 'quiet', t: QUIET, p: quiet, name: 'QUIET' },
      { i: 'later', t: LATER, p: later, name: 'LATER' },
    ]);
    await d.waitFor('listening', (l) => l.socket === later, 20_000);
  }, 60_000);
});
