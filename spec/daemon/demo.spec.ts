// The README's run command: `npm start` is `pg-logplexcollector --demo`. It must show real log
// lines within seconds and stop cleanly on Ctrl-C, on a machine with nothing configured.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonProcess } from '../support/daemonProcess';

describe('pg-logplexcollector --demo', () => {
  let cwd: string;
  beforeEach(() => (cwd = mkdtempSync('/tmp/plc-demo-')));
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  it('shows heroku-logs lines from the emulated PostgreSQL, then stops cleanly on SIGINT', async () => {
    const demo = new DaemonProcess(['--demo'], {}, { cwd });
    await demo.waitFor('connect');
    const deadline = Date.now() + 10_000;
    const errorLine = /^\S+ app\[postgres\.\d+\]: \[DEMO\] \[4-1\] sql_error_code = 23505 ERROR:  duplicate key value/;
    while (!demo.stdout.some((l) => errorLine.test(l)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(demo.stdout.filter((l) => errorLine.test(l))).not.toEqual([]);
    expect(demo.stdout.join('\n')).toContain(`logfebe.unix_socket = '${join(cwd, 'tmp/demo/logfebe.sock')}'`);
    demo.kill('SIGINT');
    expect(await demo.exited).toEqual({ code: 0, signal: null });
    expect(demo.events('stopped')).toEqual([expect.objectContaining({ delivered_all: 'true' })]);
    expect(existsSync(join(cwd, 'tmp/demo/servedb/serves.loaded'))).toBe(true);
    expect(existsSync(join(cwd, 'tmp/demo/logfebe.sock'))).toBe(false);
  });
});
