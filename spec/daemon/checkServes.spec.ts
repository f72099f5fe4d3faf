// `pg-logplexcollector check-serves FILE`, as an operator or a configuration-management tool
// runs it: exit 0 for a file the daemon would accept, 1 with the daemon's own problems for one
// it would reject, nothing listened on or written.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/Either';
import { describeInvalid, parseServes } from '../../src/servedb/validate';
import { BIN } from '../support/daemonProcess';

describe('check-serves', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plc-check-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [BIN, 'check-serves', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

  it('exits 0 for a file the daemon would accept, and writes nothing', () => {
    const file = join(dir, 'serves.new');
    writeFileSync(file, JSON.stringify({ serves: [{ i: 'blue', p: '/run/plc/blue.sock', t: 't.abc' }] }));
    const out = run([file], { LOGPLEX_URL: 'https://logplex.example.com/logs' });
    expect({ status: out.status, stdout: out.stdout, stderr: out.stderr }).toEqual({ status: 0, stdout: `${file}: 1 serve, would be accepted\n`, stderr: '' });
    expect(readdirSync(dir)).toEqual(['serves.new']);
  });

  it("exits 1 with the daemon's messages, every problem, no token", () => {
    const file = join(dir, 'serves.new');
    const text = JSON.stringify({ serves: [{ i: 'a', p: 'relative.sock', t: 't.secret-token' }, { i: 'b', p: '/run/x.sock', t: 't.secret-token' }] });
    writeFileSync(file, text);
    const out = run([file]); // no LOGPLEX_URL: a `t` serve has nowhere to post
    const parsed = parseServes(text, { logplexUrl: undefined, fileName: file });
    expect(E.isLeft(parsed)).toBe(true);
    if (E.isRight(parsed)) return;
    expect({ status: out.status, stderr: out.stderr }).toEqual({ status: 1, stderr: `${describeInvalid(parsed.left, Infinity)}\n` });
    expect(parsed.left.problems.length).toBeGreaterThan(1);
    expect(out.stderr).not.toContain('secret-token');
  });

  it('exits 1 for a file that is not there or not a regular file, without blocking on a FIFO', () => {
    expect(run([join(dir, 'nope')])).toMatchObject({ status: 1, stderr: `${join(dir, 'nope')}: ENOENT: no such file or directory\n` });
    mkdirSync(join(dir, 'd'));
    expect(run([join(dir, 'd')])).toMatchObject({ status: 1, stderr: `${join(dir, 'd')} is not a regular file\n` });
    spawnSync('mkfifo', [join(dir, 'fifo')]);
    expect(run([join(dir, 'fifo')])).toMatchObject({ status: 1, stderr: `${join(dir, 'fifo')} is not a regular file\n` });
  });

  it('exits 2 when used wrongly', () => {
    expect(run([])).toMatchObject({ status: 2 });
    expect(spawnSync(process.execPath, [BIN, 'chek-serves', 'x'], { encoding: 'utf8' })).toMatchObject({ status: 2 });
  });
});
