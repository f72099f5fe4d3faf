// The daemon as an operator runs it: a child process configured by environment and flags, a
// real serve database directory, a real unix socket, and logplex played by the stand-in on
// 127.0.0.1. Nothing here reaches inside the process.
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import { useDaemonBed } from '../support/daemonBed';
import { waitUntil } from '../support/waitUntil';
import { DaemonProcess, markersIn } from '../support/daemonProcess';

const TOKEN = 't.7c0ffee0-0000-4000-8000-000000000001';

describe('pg-logplexcollector, start-up errors: one line naming what to fix, non-zero exit', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync('/tmp/plc-d-')));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const run = async (args: string[], env: NodeJS.ProcessEnv) => {
    const d = new DaemonProcess(args, env);
    const { code } = await d.exited;
    return { code, lines: d.lines.filter((l) => l !== '') };
  };

  it('SERVE_DB_DIR unset', async () => {
    const { code, lines } = await run([], {});
    expect(code).toBe(2);
    expect(lines).toEqual([expect.stringMatching(/^pg-logplexcollector: SERVE_DB_DIR is not set/)]);
  });

  it('SERVE_DB_DIR missing or not a directory', async () => {
    const missing = await run([], { SERVE_DB_DIR: join(tmp, 'nope') });
    expect(missing.code).toBe(1);
    expect(missing.lines).toHaveLength(1);
    expect(missing.lines[0]).toContain(join(tmp, 'nope'));
    writeFileSync(join(tmp, 'file'), '');
    const notDir = await run([], { SERVE_DB_DIR: join(tmp, 'file') });
    expect(notDir.code).toBe(1);
    expect(notDir.lines).toEqual([expect.stringMatching(/not a directory/)]);
  });

  it('a corrupt serves.loaded', async () => {
    writeFileSync(join(tmp, 'serves.loaded'), '{"serves": [');
    const { code, lines } = await run([], { SERVE_DB_DIR: tmp });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('serves.loaded');
  });

  it('a second daemon on the same SERVE_DB_DIR: one line naming the first one\'s PID; the lock goes with the first', async () => {
    const first = new DaemonProcess([], { SERVE_DB_DIR: tmp });
    try {
      await first.waitFor('started');
      const second = await run([], { SERVE_DB_DIR: tmp });
      expect(second.code).toBe(1);
      expect(second.lines).toEqual([
        `pg-logplexcollector: serve database ${tmp} is in use by another collector (PID ${first.child.pid} is running, per ${join(tmp, 'lock')}): stop it first, or point SERVE_DB_DIR (--serve-db-dir) at another directory`,
      ]);
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
    expect(existsSync(join(tmp, 'lock'))).toBe(false); // released on a clean stop
  });

  it('a --spool-dir that cannot be used: one line saying what to fix, exit 2, nothing started', async () => {
    writeFileSync(join(tmp, 'file'), '');
    const underFile = await run(['--spool-dir', join(tmp, 'file/spool')], { SERVE_DB_DIR: tmp });
    expect(underFile.code).toBe(2);
    expect(underFile.lines).toEqual([
      `pg-logplexcollector: spool: cannot use ${join(tmp, 'file/spool')} (ENOTDIR: a part of the path is a file, not a directory): fix it, or choose another spool directory (--spool-dir)`,
    ]);
    // Used to never finish starting: node's recursive mkdir never settles under /proc.
    const proc = await run(['--spool-dir', '/proc/nope'], { SERVE_DB_DIR: tmp });
    expect(proc.code).toBe(2);
    expect(proc.lines).toEqual([expect.stringMatching(/^pg-logplexcollector: spool: cannot use \/proc\/nope \(ENOENT/)]);
    expect(existsSync(join(tmp, 'lock'))).toBe(false); // the serve database was let go
  });

  it('a SERVE_DB_DIR another user could write: one line saying what to fix, exit 2, the directory left as it was', async () => {
    chmodSync(tmp, 0o777);
    const { code, lines } = await run([], { SERVE_DB_DIR: tmp });
    expect(code).toBe(2);
    expect(lines).toEqual([
      `pg-logplexcollector: serve database ${tmp} is writable by group or others (mode 0777), so another user could choose where logs and tokens go: chmod go-w ${tmp}`,
    ]);
    expect(statSync(tmp).mode & 0o7777).toBe(0o777);
    expect(existsSync(join(tmp, 'lock'))).toBe(false);
  });

  it('LOGPLEX_URL unparsable, never echoed', async () => {
    const { code, lines } = await run([], { SERVE_DB_DIR: tmp, LOGPLEX_URL: 'http//token:t.secret@nowhere' });
    expect(code).toBe(2);
    expect(lines).toEqual([expect.stringMatching(/^pg-logplexcollector: LOGPLEX_URL is not a valid URL/)]);
    expect(lines[0]).not.toContain('t.secret');
  });

  it('a flag out of range', async () => {
    const { code, lines } = await run(['--concurrency', '1000'], { SERVE_DB_DIR: tmp });
    expect(code).toBe(2);
    expect(lines).toEqual(['pg-logplexcollector: --concurrency "1000": must be between 1 and 64']);
  });

  it('--help and --version answer on stdout and exit 0', async () => {
    const help = new DaemonProcess(['--help'], {});
    expect((await help.exited).code).toBe(0);
    expect(help.stdout.join('\n')).toContain('SERVE_DB_DIR');
    const version = new DaemonProcess(['--version'], {});
    expect((await version.exited).code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(version.stdout[0]).toBe(`pg-logplexcollector ${pkg.version}`);
  });
});

describe('pg-logplexcollector, running', () => {
  const bed = useDaemonBed('plc-d');
  const start = (args: string[] = []) => bed.start(args);

  it('applies a serves.new, then posts records end to end with the serve token', async () => {
    const d = start();
    await d.waitFor('started');
    const socket = join(bed.dir, 'pg.sock');
    bed.writeServes([{ i: 'db1', t: TOKEN, p: socket, name: 'BLUE' }]);
    await d.waitFor('listening', (l) => l.socket === socket);
    await d.waitFor('serves_accepted', (l) => l.reason !== 'start'); // logged before its serves listen; the copy follows
    await waitUntil(() => existsSync(join(bed.dir, 'serves.loaded')));
    expect(existsSync(join(bed.dir, 'serves.new'))).toBe(false);

    const report = await runEmulator({ socketPath: socket, identity: 'db1', connections: 2, recordsPerConnection: 50 });
    expect(report.sent).toBe(100);
    await waitUntil(() => markersIn(bed.received).size === 100);
    expect(new Set(bed.received.map((b) => b.token))).toEqual(new Set([TOKEN]));
    const frames = bed.received.flatMap((b) => b.frames);
    expect(frames.every((f) => f.appName === TOKEN && f.msg.startsWith('[BLUE] ['))).toBe(true);
    // The token is on the wire only: never in our own log.
    expect(d.lines.join('\n')).not.toContain(TOKEN);

    d.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(socket)).toBe(false); // socket file removed on the way out
  });

  it('creates sockets with --socket-mode and --socket-group', async () => {
    const socket = join(bed.dir, 'pg.sock');
    const gid = process.getuid?.() === 0 ? 4242 : (process.getgid?.() ?? 0); // root may chown to any gid
    bed.writeServes([{ i: 'db1', t: TOKEN, p: socket }]);
    const d = start(['--socket-mode', '0660', '--socket-group', String(gid)]);
    const listening = await d.waitFor('listening', (l) => l.socket === socket);
    expect(listening).toMatchObject({ mode: '0660', group: String(gid) });
    expect(lstatSync(socket).mode & 0o7777).toBe(0o660);
    expect(lstatSync(socket).gid).toBe(gid);
    const report = await runEmulator({ socketPath: socket, identity: 'db1', recordsPerConnection: 5 });
    expect(report.sent).toBe(5);
    await waitUntil(() => markersIn(bed.received).size === 5);
  });

  it('refuses a bad serves.new with a readable last_error and keeps serving', async () => {
    const socket = join(bed.dir, 'pg.sock');
    const d = start();
    await d.waitFor('started');
    bed.writeServes([{ i: 'db1', t: TOKEN, p: socket }]);
    await d.waitFor('listening');
    bed.writeServes([{ i: 'db1', t: TOKEN, p: 42 }]);
    const rejected = await d.waitFor('serves_rejected');
    expect(readFileSync(join(bed.dir, 'last_error'), 'utf8')).toContain('serves[0].p');
    expect(JSON.stringify(rejected)).not.toContain(TOKEN);
    const report = await runEmulator({ socketPath: socket, identity: 'db1', recordsPerConnection: 5 });
    expect(report.sent).toBe(5);
    await waitUntil(() => markersIn(bed.received).size === 5);
  });

  it('delivers every record already read when SIGTERM arrives, then exits 0', async () => {
    const socket = join(bed.dir, 'pg.sock');
    bed.writeServes([{ i: 'db1', t: TOKEN, p: socket }]);
    // A minute-long flush period: without the shutdown flush nothing below would be posted.
    const d = start(['--flush-interval', '60s']);
    await d.waitFor('listening');
    await runEmulator({ socketPath: socket, identity: 'db1', connections: 3, recordsPerConnection: 40 });
    await d.waitFor('disconnect', () => d.events('disconnect').reduce((n, l) => n + Number(l.records), 0) === 120);
    expect(markersIn(bed.received).size).toBeLessThan(120);
    d.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(markersIn(bed.received).size).toBe(120);
    expect(d.events('stopped')[0]).toMatchObject({ delivered_all: 'true' });
  });

  it('a shutdown timeout logs the lines each serve abandoned and exits 1', async () => {
    const socket = join(bed.dir, 'pg.sock');
    bed.writeServes([{ i: 'db1', t: TOKEN, p: socket, name: 'BLUE' }]);
    await bed.standIn.setMode({ kind: 'hang' }); // logplex never answers
    const d = start(['--shutdown-timeout', '300ms']);
    await d.waitFor('listening');
    await runEmulator({ socketPath: socket, identity: 'db1', recordsPerConnection: 40 });
    await d.waitFor('disconnect', (l) => l.records === '40');
    await waitUntil(() => bed.standIn.stats().hanging > 0); // the batch is posted, and held
    d.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 1, signal: null });
    const timeout = d.events('shutdown_timeout')[0];
    const abandoned = d.events('lines_abandoned');
    expect(abandoned).toEqual([expect.objectContaining({ level: 'error', serve: 'BLUE', socket })]);
    expect(Number(abandoned[0]?.lines)).toBeGreaterThanOrEqual(40); // a record is one line or more
    expect(timeout).toMatchObject({ queued_lines: abandoned[0]?.lines, queued_bytes: abandoned[0]?.bytes });
    expect(d.events('stopped')[0]).toMatchObject({ delivered_all: 'false' });
  });

  it('prints no debug lines by default; --log-level debug shows them', async () => {
    const socket = join(bed.dir, 'pg.sock');
    bed.writeServes([{ i: 'db1', t: TOKEN, p: socket }]);
    // A connection that closes before identifying is a debug-level `disconnect`.
    const knockAndLeave = () =>
      new Promise<void>((done, fail) => createConnection(socket).on('connect', function (this: Socket) { this.end(); }).on('close', () => done()).on('error', fail));

    const quiet = start();
    await quiet.waitFor('listening');
    await knockAndLeave();
    await runEmulator({ socketPath: socket, identity: 'db1', recordsPerConnection: 1 });
    await quiet.waitFor('disconnect', (l) => l.identified === 'true'); // logged after the knock's
    expect(quiet.lines.filter((l) => l.includes('level=debug'))).toEqual([]);
    quiet.kill('SIGTERM');
    expect((await quiet.exited).code).toBe(0);

    const verbose = start(['--log-level', 'debug']);
    await verbose.waitFor('listening');
    await knockAndLeave();
    expect(await verbose.waitFor('disconnect')).toMatchObject({ level: 'debug', identified: 'false' });
  });

  it('re-reads the serve database on SIGHUP (file events off, poll an hour away)', async () => {
    const d = start(['--no-watch', '--poll-interval', '60m']);
    await d.waitFor('started');
    const socket = join(bed.dir, 'pg.sock');
    bed.writeServes([{ i: 'db1', t: TOKEN, p: socket }]);
    await new Promise((r) => setTimeout(r, 500));
    expect(d.events('serves_accepted').filter((l) => l.reason !== 'start')).toEqual([]);
    d.kill('SIGHUP');
    await d.waitFor('reload_requested', (l) => l.signal === 'SIGHUP');
    await d.waitFor('serves_accepted', (l) => l.reason === 'rescan');
    await d.waitFor('listening', (l) => l.socket === socket);
  });

  it('says the outcome of a SIGHUP that finds no serves.new', async () => {
    const d = start(['--no-watch', '--poll-interval', '60m']);
    await d.waitFor('started');
    d.kill('SIGHUP');
    await d.waitFor('reload_requested', (l) => l.signal === 'SIGHUP');
    expect(await d.waitFor('serves_unchanged')).toMatchObject({ level: 'info', reason: 'rescan', serves: '0' });
  });
});

