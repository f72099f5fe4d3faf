// The daemon under hostile peers and faults, black box: a storm of
// connections with a 1 MiB identity full of terminal escapes, a stderr nobody reads, a
// serves.new that cannot be read, a token typed into the wrong field. Each test was seen to
// fail before the bound it proves.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { encodeIdentity, encodeVersion } from '../../src/protocol/encode';
import { writeServes } from '../support/daemonBed';
import { DaemonProcess } from '../support/daemonProcess';

const TOKEN = 't.7c0ffee0-0000-4000-8000-000000000001';
const LOOKS_LIKE_A_TOKEN = 't.5ec7e7ab-1234-4000-8000-00000000beef';
// Just under the 1 MiB record cap, so that it is read whole and compared; starts with a colour
// change, a bell and a fake line break.
const HUGE_IDENTITY = `evil\x1b[31m\x07\r\nlevel=error event=forged ${'y'.repeat((1 << 20) - 200)}`;

/** The daemon has made its socket (what `test -S` says, without a process per look). */
const isSocket = (path: string): boolean => statSync(path, { throwIfNoEntry: false })?.isSocket() === true;

/** One connection that sends `bytes` and resolves when the daemon closes it (or it fails). */
const connectOnce = (socket: string, bytes: Buffer): Promise<void> =>
  new Promise((done) => {
    const c = createConnection(socket);
    c.on('error', () => done());
    c.on('close', () => done());
    c.resume();
    c.end(bytes);
  });

const hello = (identity: string): Buffer =>
  Buffer.concat([encodeVersion('PG-15.20 (Debian 15.20-0+deb12u1)/logfebe-1'), encodeIdentity(identity)]);

/** `n` connections, at most `parallel` at a time. */
async function storm(n: number, parallel: number, one: () => Promise<void>): Promise<void> {
  let started = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < n) {
        started += 1;
        await one();
      }
    }),
  );
}

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How long the process took to exit after `signal`, or Infinity when it did not within `limitMs`. */
async function exitAfter(d: DaemonProcess, signal: NodeJS.Signals, limitMs: number): Promise<{ ms: number; code: number | null }> {
  const began = Date.now();
  d.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    d.exited.then(({ code }) => ({ ms: Date.now() - began, code })),
    new Promise<{ ms: number; code: null }>((r) => (timer = setTimeout(() => r({ ms: Infinity, code: null }), limitMs))),
  ]);
  clearTimeout(timer);
  return outcome;
}

describe('pg-logplexcollector under hostile peers', () => {
  let tmp: string;
  let socket: string;
  let daemon: DaemonProcess | undefined;

  beforeEach(() => {
    tmp = mkdtempSync('/tmp/plc-h-');
    socket = join(tmp, 'pg.sock');
  });
  afterEach(async () => {
    daemon?.kill('SIGKILL');
    await daemon?.exited;
    daemon = undefined;
    rmSync(tmp, { recursive: true, force: true });
  });

  const start = (args: string[], options: { unreadStderr?: boolean } = {}): DaemonProcess =>
    (daemon = new DaemonProcess(['--stats-interval', '0', ...args], { SERVE_DB_DIR: tmp, LOGPLEX_URL: 'http://127.0.0.1:9/' }, options));

  it('a storm of 1 MiB identities: one line cut to 200 characters, escaped, then one count', async () => {
    writeServes(tmp, [{ i: 'db1', t: TOKEN, p: socket, name: 'BLUE' }]);
    const d = start([]);
    await d.waitFor('listening');
    await storm(30, 10, () => connectOnce(socket, hello(HUGE_IDENTITY)));
    expect(await exitAfter(d, 'SIGTERM', 15_000)).toMatchObject({ code: 0 });

    const all = d.lines.join('\n');
    // Before: 30 lines of 2 MiB each (the identity raw in got=, then escaped in reason=).
    expect(all.length).toBeLessThan(10_000);
    // eslint-disable-next-line no-control-regex
    expect(all).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/); // no byte of the peer's reaches a terminal raw
    expect(d.events('forged')).toEqual([]); // nor forges a line of its own
    const mismatches = d.events('identity_mismatch');
    expect(mismatches[0]?.got).toBe(`${HUGE_IDENTITY.slice(0, 200)}…(${HUGE_IDENTITY.length} chars)`);
    // Every connection is accounted for: a line stands for one, or for the `repeated` it counts.
    expect(mismatches.reduce((n, l) => n + (l.repeated === undefined ? 1 : Number(l.repeated)), 0)).toBe(30);
    expect(mismatches.length).toBeLessThan(30);
  }, 60_000);

  it('SIGTERM ends it in time while nobody reads its stderr during a storm', async () => {
    writeServes(tmp, [{ i: 'db1', t: TOKEN, p: socket, name: 'BLUE' }]);
    const d = start(['--shutdown-timeout', '1s'], { unreadStderr: true });
    await waitUntil(() => isSocket(socket));
    // Connections that identify log two lines each (connect, disconnect): more than the pipe holds.
    await storm(400, 10, () => connectOnce(socket, hello('db1')));
    await storm(30, 10, () => connectOnce(socket, hello(HUGE_IDENTITY)));
    const { ms, code } = await exitAfter(d, 'SIGTERM', 15_000);
    // 1 s of shutdown timeout and 1 s of grace, with room for a loaded machine. Before: still
    // running after 15 s (its last lines waiting for the pipe kept it alive).
    expect(ms).toBeLessThan(5_000);
    expect(code).toBe(0);
  }, 60_000);

  it('a stderr read late: our lines beyond 1 MiB dropped, counted and announced, the others whole', async () => {
    const identity = `db-${'1'.repeat(190)}`; // long (under the 200-character cut): fewer connections fill the queue
    writeServes(tmp, [{ i: identity, t: TOKEN, p: socket, name: 'BLUE' }]);
    const d = start([], { unreadStderr: true });
    await waitUntil(() => isSocket(socket));
    // Each identifies, so each logs connect and disconnect (~420 bytes each, never folded):
    // ~3.4 MB, more than the queue (1 MiB) and the kernel (Node's stdio "pipes" are socket
    // pairs, which held another ~400 KB here) take together.
    const connections = 4000;
    await storm(connections, 50, () => connectOnce(socket, hello(identity)));
    d.readStderr();
    const announced = await d.waitFor('log_dropped', () => true, 30_000);
    const seen = d.events('connect').length + d.events('disconnect').length;
    expect(Number(announced.count)).toBeGreaterThan(0);
    expect(seen + Number(announced.count)).toBe(2 * connections); // each line printed or counted
    expect(d.lines.every((l) => l === '' || l.startsWith('ts='))).toBe(true); // no line cut short
  }, 60_000); // 4,000 connections on a loaded machine: waited on, not timed

  it('a serves.new that cannot be read (a FIFO) is refused at once, and SIGTERM ends it in time', async () => {
    const d = start(['--shutdown-timeout', '1s', '--no-watch', '--poll-interval', '60m']);
    await d.waitFor('started');
    execFileSync('mkfifo', [join(tmp, 'serves.new')]); // no writer will ever open it
    d.kill('SIGHUP');
    // Before: open() waited for a writer forever, and stopping waited for the look.
    const rejected = await d.waitFor('serves_rejected');
    expect(rejected.error).toMatch(/FIFO \(named pipe\), not a regular file/);
    const { ms, code } = await exitAfter(d, 'SIGTERM', 15_000);
    expect(ms).toBeLessThan(5_000);
    expect(code).toBe(0);
  });
});

describe('pg-logplexcollector never quotes a rejected value whole', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync('/tmp/plc-h-')));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('a token typed into p: not in the start-up error', async () => {
    writeFileSync(join(tmp, 'serves.loaded'), JSON.stringify({ serves: [{ i: 'db1', t: TOKEN, p: LOOKS_LIKE_A_TOKEN }] }));
    const d = new DaemonProcess([], { SERVE_DB_DIR: tmp, LOGPLEX_URL: 'http://127.0.0.1:9/' });
    expect((await d.exited).code).toBe(1);
    const all = d.lines.join('\n');
    expect(all).toContain('serves[0].p: must be an absolute path, got "t.5ec7e7…(38 chars)"');
    expect(all).not.toContain(LOOKS_LIKE_A_TOKEN.slice(0, 9));
  });

  it('a token typed into p: not in last_error nor in the serves_rejected line', async () => {
    const d = new DaemonProcess(['--stats-interval', '0'], { SERVE_DB_DIR: tmp, LOGPLEX_URL: 'http://127.0.0.1:9/' });
    try {
      await d.waitFor('started');
      writeServes(tmp, [
        { i: 'db1', t: TOKEN, p: LOOKS_LIKE_A_TOKEN },
        { i: 'db2', t: TOKEN, p: join(tmp, 'a.sock') },
        { i: 'db3', t: TOKEN, p: `${join(tmp, 'a.sock')}` },
      ]);
      const rejected = await d.waitFor('serves_rejected');
      const lastError = readFileSync(join(tmp, 'last_error'), 'utf8');
      for (const text of [lastError, rejected.error ?? '']) {
        expect(text).toContain('serves[0].p: must be an absolute path, got "t.5ec7e7…(38 chars)"');
        expect(text).not.toContain(LOOKS_LIKE_A_TOKEN.slice(0, 9));
      }
      expect(d.lines.join('\n')).not.toContain(LOOKS_LIKE_A_TOKEN.slice(0, 9));
      // An absolute path is no token: quoted whole, so the operator sees which entry to fix.
      expect(lastError).toContain(`serves[2].p: ${JSON.stringify(join(tmp, 'a.sock'))} is also used by serves[1]`);
    } finally {
      d.kill('SIGKILL');
      await d.exited;
    }
  });
});
