import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { execFile, spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { runEmulatorCli } from '../../src/tools/emulatorMain';
import { runStandInCli } from '../../src/tools/standInMain';
import { FIXTURE_DIR, fixtureRecords } from '../support/fixtures';

/** A writable that remembers what was written, and can wait for some of it. */
function capture(): { stream: PassThrough; text: () => string; waitFor: (re: RegExp) => Promise<RegExpExecArray> } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return {
    stream,
    text: () => text,
    waitFor: async (re) => {
      for (let i = 0; i < 500; i++) {
        const m = re.exec(text);
        if (m !== null) return m;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`never saw ${re} in ${text}`);
    },
  };
}

/** A unix socket server that reads and counts everything, as a collector that only drains would. */
async function drainingServer(socketPath: string): Promise<{ received: (atLeast: number) => Promise<number>; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  let received = 0;
  const server = createServer((s) => {
    sockets.push(s);
    s.on('data', (c: Buffer) => (received += c.length));
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return {
    // Bytes can still be in flight when the emulator reports; wait up to 5 s for them.
    received: async (atLeast) => {
      for (let i = 0; i < 500 && received < atLeast; i++) await new Promise((r) => setTimeout(r, 10));
      return received;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function post(url: string, body: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Basic ${Buffer.from('token:t.cli').toString('base64')}`,
          'content-type': 'application/logplex-1',
          'content-length': String(Buffer.byteLength(body)),
          'logplex-msg-count': String(count),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('logplex-standin CLI', () => {
  it('prints its URL, then each accepted frame as heroku logs would, and stops on cue', async () => {
    const out = capture();
    const err = capture();
    const stdin = new PassThrough();
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((r) => (stop = r));
    const run = runStandInCli(['--control'], { stdout: out.stream, stderr: err.stream, stdin, stop: stopped });
    const url = (await out.waitFor(/^(http:\/\/127\.0\.0\.1:\d+\/logs)\n/))[1] as string;
    const syslog = '<134>1 2026-11-25T01:43:51.596000+00:00 postgres t.cli postgres.4517 - - [BLUE] [5-1] hi ✓';
    expect(await post(url, `${Buffer.byteLength(syslog)} ${syslog}`, 1)).toBe(204);
    await out.waitFor(/app\[postgres\.4517\]/);
    expect(out.text()).toContain('2026-11-25T01:43:51.596000+00:00 app[postgres.4517]: [BLUE] [5-1] hi ✓\n');

    stdin.write('fail 503\n');
    await err.waitFor(/mode fail/);
    expect(await post(url, `${Buffer.byteLength(syslog)} ${syslog}`, 1)).toBe(503);

    stop();
    expect(await run).toBe(0);
    expect(err.text()).toMatch(/"accepted":1/);
  });

  it('answers --help and refuses unknown flags', async () => {
    const out = capture();
    const err = capture();
    const never = new Promise<void>(() => undefined);
    expect(await runStandInCli(['--help'], { stdout: out.stream, stderr: err.stream, stdin: new PassThrough(), stop: never })).toBe(0);
    expect(out.text()).toMatch(/usage: logplex-standin/);
    expect(await runStandInCli(['--bogus'], { stdout: out.stream, stderr: err.stream, stdin: new PassThrough(), stop: never })).toBe(2);
    expect(await runStandInCli(['--mode', 'down'], { stdout: out.stream, stderr: err.stream, stdin: new PassThrough(), stop: never })).toBe(2);
    expect(err.text()).toMatch(/--mode down/);
  });
});

describe('logplex-standin command', () => {
  it('on a busy port says so in one line, without a stack trace, and exits 1', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const { port } = busy.address() as AddressInfo;
    try {
      const child = spawn(process.execPath, [resolve(__dirname, '../../bin/logplex-standin.js'), '--port', String(port)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
      expect({ code, stderr }).toEqual({
        code: 1,
        stderr: `logplex-standin: 127.0.0.1:${port} is already in use: pick another --port, or 0 for any free one\n`,
      });
    } finally {
      busy.close();
    }
  });
});

describe('logfebe-emulator CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync('/tmp/plc-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replays the fixtures over N connections and reports what it sent', async () => {
    const socketPath = join(dir, 's.sock');
    const drain = await drainingServer(socketPath);
    try {
      const out = capture();
      const err = capture();
      const code = await runEmulatorCli(
        ['--socket', socketPath, '--replay-fixtures', FIXTURE_DIR, '--connections', '3', '--json'],
        { stdout: out.stream, stderr: err.stream },
      );
      expect(err.text()).toBe('');
      expect(code).toBe(0);
      const report = JSON.parse(out.text()) as { sent: number; bytes: number; backends: unknown[] };
      expect(report.sent).toBe(3 * fixtureRecords().length);
      expect(report.backends).toHaveLength(3);
      expect(await drain.received(report.bytes)).toBe(report.bytes);
    } finally {
      await drain.close();
    }
  });

  it('with --pre-encode, encodes synthetic records before sending and sends them all', async () => {
    const socketPath = join(dir, 's.sock');
    const drain = await drainingServer(socketPath);
    try {
      const out = capture();
      const err = capture();
      const code = await runEmulatorCli(['--socket', socketPath, '--synthetic', '--connections', '2', '--records', '120', '--pre-encode', '--json'], { stdout: out.stream, stderr: err.stream });
      expect(err.text()).toBe('');
      expect(code).toBe(0);
      const report = JSON.parse(out.text()) as { sent: number; bytes: number; encodedBytes: number };
      expect(report.sent).toBe(240);
      expect(report.encodedBytes).toBeGreaterThan(0);
      expect(report.bytes).toBeGreaterThan(report.encodedBytes); // plus V and I per connection
      expect(await drain.received(report.bytes)).toBe(report.bytes);
    } finally {
      await drain.close();
    }
  });

  it('runs many backends without node warning of a listener leak (each listens for the stop)', async () => {
    const socketPath = join(dir, 's.sock');
    const drain = await drainingServer(socketPath);
    try {
      const bin = join(__dirname, '../../bin/logfebe-emulator.js');
      const { stderr } = await promisify(execFile)(process.execPath, [bin, '--socket', socketPath, '--connections', '12', '--records', '3']);
      expect(stderr).not.toContain('MaxListenersExceededWarning');
    } finally {
      await drain.close();
    }
  });

  it('answers --help, and refuses a missing socket flag and a refused socket', async () => {
    const out = capture();
    const err = capture();
    expect(await runEmulatorCli(['--help'], { stdout: out.stream, stderr: err.stream })).toBe(0);
    expect(out.text()).toMatch(/usage: logfebe-emulator/);
    expect(await runEmulatorCli(['--synthetic'], { stdout: out.stream, stderr: err.stream })).toBe(2);
    expect(err.text()).toMatch(/--socket is required/);
    expect(await runEmulatorCli(['--socket', join(dir, 'none.sock'), '--records', '3'], { stdout: out.stream, stderr: err.stream })).toBe(1);
    expect(out.text()).toMatch(/error: .*ENOENT/);
  });
});
