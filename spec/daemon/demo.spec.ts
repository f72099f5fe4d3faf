// The README's run command: `npm start` is `pg-logplexcollector --demo`. It must show real log
// lines within seconds and stop cleanly on Ctrl-C, on a machine with nothing configured.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DaemonProcess } from '../support/daemonProcess';

describe('pg-logplexcollector --demo', () => {
  let cwd: string;
  let demo: DaemonProcess | undefined;
  beforeEach(() => (cwd = mkdtempSync('/tmp/plc-demo-')));
  afterEach(async () => {
    demo?.kill('SIGKILL'); // a failed run must not leave the demo (and jest) running
    await demo?.exited;
    demo = undefined;
    rmSync(cwd, { recursive: true, force: true });
  });

  it('shows heroku-logs lines from the emulated PostgreSQL, then stops cleanly on SIGINT', async () => {
    const tmpdir = join(cwd, 'temp'); // the demo's files go under TMPDIR, never into the working directory
    mkdirSync(tmpdir);
    const d = (demo = new DaemonProcess(['--demo'], { TMPDIR: tmpdir }, { cwd }));
    await d.waitFor('connect');
    const deadline = Date.now() + 10_000;
    const errorLine = /^\S+ app\[postgres\.\d+\]: \[DEMO\] \[4-1\] sql_error_code = 23505 ERROR:  duplicate key value/;
    while (!d.stdout.some((l) => errorLine.test(l)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(d.stdout.filter((l) => errorLine.test(l))).not.toEqual([]);
    const socket = /logfebe\.unix_socket = '([^']+)'/.exec(d.stdout.join('\n'))?.[1] ?? '';
    const demoDir = dirname(socket);
    expect(dirname(demoDir)).toBe(tmpdir);
    expect(existsSync(join(demoDir, 'servedb/serves.loaded'))).toBe(true);
    d.kill('SIGINT');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(d.events('stopped')).toEqual([expect.objectContaining({ delivered_all: 'true' })]);
    expect(readdirSync(cwd)).toEqual(['temp']); // no ./tmp left behind
    expect(existsSync(demoDir)).toBe(false); // and the temporary directory is removed on the way out
  });
});
