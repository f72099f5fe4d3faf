// The daemon under a supervisor, started the way README's "Running it for real" says: installed
// as a package (node_modules/.bin), launched by a shell that `exec`s it, in a process group of
// its own, and stopped by SIGTERM to the whole group, as systemd (KillMode=control-group) and a
// terminal's Ctrl-C do. The supervisor watches only the process it started: that process must
// be the daemon, must exit after delivering everything, and must exit 0.
//
// Under `npx pg-logplexcollector` the process started is npm's: it exits at once on the group's
// SIGTERM while the daemon it spawned is still delivering, and the supervisor sees a crash.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import { startLogplexStandIn, type LogplexStandIn, type ReceivedBatch } from '../../src/tools/logplexStandIn';
import { DaemonProcess, markersIn } from '../support/daemonProcess';

const ROOT = resolve(__dirname, '../..');
const TOKEN = 't.5e1f0000-0000-4000-8000-000000000013';
/** What README tells operators to run, from the directory the package is installed in. */
export const DOCUMENTED_COMMAND = 'exec node_modules/.bin/pg-logplexcollector';
/** ... and from a clone (also the Dockerfile's form: node on the bin script, no npm). */
const FROM_A_CLONE = 'exec node bin/pg-logplexcollector.js';

/** A directory laid out as `npm install pg-logplexcollector` leaves it (linked to this checkout). */
function installInto(dir: string): void {
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules/pg-logplexcollector'));
  symlinkSync('../pg-logplexcollector/bin/pg-logplexcollector.js', join(dir, 'node_modules/.bin/pg-logplexcollector'));
}

describe('pg-logplexcollector under a supervisor', () => {
  let tmp: string;
  let standIn: LogplexStandIn;
  let daemon: DaemonProcess | undefined;

  beforeEach(async () => {
    tmp = mkdtempSync('/tmp/plc-sup-');
    standIn = await startLogplexStandIn();
  });
  afterEach(async () => {
    try {
      daemon?.killGroup('SIGKILL'); // whatever a failed run left behind in the group
    } catch {
      // ESRCH: the group is gone already
    }
    daemon = undefined;
    await standIn.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('README runs the daemon itself, not through npx or npm', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const running = readme.slice(readme.indexOf('## Running it for real'), readme.indexOf('### The serve database'));
    expect(running).toContain(DOCUMENTED_COMMAND);
    expect(running).toContain(FROM_A_CLONE);
    expect(running).not.toMatch(/^\s*(npx|npm (start|run|exec))\b.*pg-logplexcollector/m);
  });

  it.each([
    ['installed', DOCUMENTED_COMMAND],
    ['from a clone', FROM_A_CLONE],
  ])('%s: a SIGTERM to the process group ends the started process with status 0, after every record is delivered', async (how, command) => {
    const install = how === 'installed' ? join(tmp, 'app') : ROOT;
    const db = join(tmp, 'db');
    mkdirSync(db);
    if (how === 'installed') installInto(install);
    const socket = join(tmp, 'pg.sock');
    writeFileSync(join(db, 'serves.tmp'), JSON.stringify({ serves: [{ i: 'db1', t: TOKEN, p: socket }] }));
    renameSync(join(db, 'serves.tmp'), join(db, 'serves.new'));
    const received: ReceivedBatch[] = [];
    standIn.received$.subscribe((b) => received.push(b));

    const d = (daemon = new DaemonProcess([], { SERVE_DB_DIR: db, LOGPLEX_URL: standIn.url }, {
      cwd: install,
      shell: `${command} --stats-interval 0`,
    }));
    await d.waitFor('listening', (l) => l.socket === socket, 30_000);
    // logplex takes a second to answer: delivery is under way when the signal comes.
    await standIn.setMode({ kind: 'slow', delayMs: 1000 });
    await runEmulator({ socketPath: socket, identity: 'db1', connections: 2, recordsPerConnection: 100 });
    await d.waitFor('disconnect', () => d.events('disconnect').reduce((n, l) => n + Number(l.records), 0) === 200);
    await waitUntil(() => standIn.stats().requests > 0); // a post is being held by the slow logplex

    d.killGroup('SIGTERM');
    const exit = await d.exited;
    const deliveredAtExit = markersIn(received).size;
    expect({ exit, deliveredAtExit }).toEqual({ exit: { code: 0, signal: null }, deliveredAtExit: 200 });
    expect(d.events('stopped')[0]).toMatchObject({ delivered_all: 'true' });
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
