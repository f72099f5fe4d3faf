// The socket files themselves: stale ones removed, things that are not ours left alone and
// reported, modes, and a broken path never taking the other serves down.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { firstValueFrom, take } from 'rxjs';
import { listenUnix, MAX_UNIX_SOCKET_PATH_BYTES } from '../../src/source/listenUnix';
import { FakeBackend, Harness, makeServe, record, tempDir, virtualTime, waitFor } from './support';
import { withUmask } from '../support/umask';

/** A socket file nobody listens on, as a crashed previous run leaves it. */
function staleSocket(path: string): void {
  // A child that binds and dies by SIGKILL: no close(), so the file stays behind.
  const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  try {
    execFileSync(process.execPath, ['-e', script], { stdio: 'ignore' });
  } catch {
    // killed, as intended
  }
  if (!lstatSync(path).isSocket()) throw new Error('test setup: no stale socket');
}

describe('socket files', () => {
  let tmp: ReturnType<typeof tempDir>;
  let harness: Harness;

  beforeEach(() => {
    tmp = tempDir();
    harness = new Harness();
  });
  afterEach(() => {
    harness.unsubscribe();
    tmp.remove();
  });

  it('makes the socket world-writable whatever the umask, and removes it when unsubscribed', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await withUmask(0o077, () => harness.apply([serve]));
    const stat = lstatSync(serve.socketPath);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o777);
    expect(harness.eventsOf('listening')).toEqual([{ kind: 'listening', level: 'info', serve: 'BLUE', socket: serve.socketPath, mode: '0777', group: stat.gid }]);

    harness.unsubscribe();
    expect(existsSync(serve.socketPath)).toBe(false);
    expect(harness.eventsOf('stopped_listening')).toHaveLength(1);
  });

  it('removes a stale socket file and listens in its place', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'db');
    staleSocket(serve.socketPath);
    await harness.apply([serve]);
    expect(harness.eventsOf('listen_error')).toEqual([]);
    const backend = await FakeBackend.open(serve.socketPath, 'db');
    await backend.send(record(1, 1));
    await waitFor('record', () => harness.records.length === 1);
  });

  it('leaves a regular file in the way alone, reports it, and keeps the other serves working', async () => {
    const blocked = makeServe(tmp.path('file.sock'), 'one', 'token-1', 'BLOCKED');
    const fine = makeServe(tmp.path('fine.sock'), 'two', 'token-2', 'FINE');
    writeFileSync(blocked.socketPath, 'not a socket');
    await harness.apply([blocked, fine]);

    expect(readFileSync(blocked.socketPath, 'utf8')).toBe('not a socket');
    expect(harness.eventsOf('listen_error')).toEqual([
      expect.objectContaining({ level: 'error', serve: 'BLOCKED', socket: blocked.socketPath, code: 'LISTEN_NOT_A_SOCKET', retry_in_ms: 10_000 }),
    ]);
    expect(harness.eventsOf('listen_error')[0]!.reason).toContain('not a socket');
    const backend = await FakeBackend.open(fine.socketPath, 'two');
    await backend.send(record(1, 1));
    await waitFor('record on the working serve', () => harness.records.length === 1);
    expect(harness.records[0]!.serve).toBe(fine);
    expect(harness.completed).toBe(false);
    expect(harness.error).toBeUndefined();
  });

  it('reports a missing directory, keeps the other serves working, and comes up once the directory exists', async () => {
    harness.unsubscribe();
    const vt = virtualTime();
    harness = new Harness({ listenRetryMs: 50, listenSliceMs: 0, readIntervalMs: 0, scheduler: vt });
    const missing = makeServe(tmp.path('nodir/a.sock'), 'one', 'token-1', 'LATER');
    const fine = makeServe(tmp.path('fine.sock'), 'two');
    await harness.apply([missing, fine]);

    expect(harness.eventsOf('listen_error')[0]).toMatchObject({ code: 'LISTEN_NO_DIRECTORY', socket: missing.socketPath });
    const backend = await FakeBackend.open(fine.socketPath, 'two');
    await backend.send(record(1, 1));
    await waitFor('record on the working serve', () => harness.records.length === 1);

    // Retried every 50 ms meanwhile, but logged once: the same cause is not news.
    await vt.advance(400);
    expect(harness.eventsOf('listen_error')).toHaveLength(1);
    expect(harness.eventsOf('listen_error')[0]).toMatchObject({ attempts: 1 });

    mkdirSync(tmp.path('nodir'));
    await vt.advance(50);
    await waitFor('the retry to listen', () => harness.eventsOf('listening').some((e) => e.socket === missing.socketPath));
    const late = await FakeBackend.open(missing.socketPath, 'one');
    await late.send(record(2, 1));
    await waitFor('record on the late serve', () => harness.recordsOf(2).length === 1);
  });

  it('logs a listen failure again when its cause changes', async () => {
    harness.unsubscribe();
    const vt = virtualTime();
    harness = new Harness({ listenRetryMs: 20, listenSliceMs: 0, readIntervalMs: 0, scheduler: vt });
    const serve = makeServe(tmp.path('later/a.sock'), 'one');
    await harness.apply([serve]);
    await vt.advance(40);
    expect(harness.eventsOf('listen_error').map((e) => e.code)).toEqual(['LISTEN_NO_DIRECTORY']);
    mkdirSync(tmp.path('later'));
    writeFileSync(serve.socketPath, 'not a socket'); // now something else is wrong
    await vt.advance(20);
    expect(harness.eventsOf('listen_error')).toHaveLength(2);
    await vt.advance(200);
    const logged = harness.eventsOf('listen_error');
    expect(logged.map((e) => e.code)).toEqual(['LISTEN_NO_DIRECTORY', 'LISTEN_NOT_A_SOCKET']);
    expect(logged[1]!.attempts).toBeGreaterThan(1);
  });

  it('refuses to take over a socket another process is listening on', async () => {
    const path = tmp.path('live.sock');
    const other: Server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => other.listen(path, resolve));
    try {
      await harness.apply([makeServe(path, 'db')]);
      expect(harness.eventsOf('listen_error')).toEqual([expect.objectContaining({ code: 'LISTEN_IN_USE' })]);
      expect(lstatSync(path).isSocket()).toBe(true); // still the other process's
      harness.unsubscribe();
      expect(existsSync(path)).toBe(true); // and never removed by our teardown
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('says once that a socket reached through a symlinked directory is held by our own serve', async () => {
    harness.unsubscribe();
    const vt = virtualTime();
    harness = new Harness({ listenRetryMs: 20, listenSliceMs: 0, readIntervalMs: 0, scheduler: vt });
    mkdirSync(tmp.path('real'));
    symlinkSync(tmp.path('real'), tmp.path('link'));
    const first = makeServe(tmp.path('real/a.sock'), 'one', 'token-1', 'FIRST');
    const second = makeServe(tmp.path('link/a.sock'), 'two', 'token-2', 'SECOND');
    await harness.apply([first]);
    await harness.apply([first, second]);
    await vt.advance(200); // ten retries
    expect(harness.eventsOf('listen_error')).toEqual([
      expect.objectContaining({
        serve: 'SECOND',
        code: 'LISTEN_OWN_SERVE',
        reason: `${second.socketPath}: this process already listens on this socket, for the serve at ${first.socketPath} (the same socket under another path)`,
      }),
    ]);
    // Probing it would have handed the first serve a stray connection.
    expect(harness.events.filter((e) => e.kind === 'disconnect' || e.kind === 'protocol_error')).toEqual([]);
    // Once the first serve goes, the second takes the socket at its next retry.
    await harness.apply([second]);
    await vt.advance(20);
    await waitFor('the second serve to listen', () => harness.eventsOf('listening').some((e) => e.serve === 'SECOND'));
    const backend = await FakeBackend.open(first.socketPath, 'two'); // the same socket, by the other path
    await backend.send(record(4, 1));
    await waitFor('its record, as the second serve', () => harness.recordsOf(4).some((r) => r.serve.name === 'SECOND'));
    backend.destroy();
  });

  it('refuses a path longer than a unix socket allows, instead of letting it be truncated', async () => {
    const long = tmp.path('x'.repeat(MAX_UNIX_SOCKET_PATH_BYTES));
    const fine = makeServe(tmp.path('fine.sock'), 'db');
    await harness.apply([makeServe(long, 'db'), fine]);
    expect(harness.eventsOf('listen_error')).toEqual([expect.objectContaining({ code: 'LISTEN_PATH_TOO_LONG', socket: long })]);
    expect(harness.eventsOf('listening').map((e) => e.socket)).toEqual([fine.socketPath]);
  });

  it('listenUnix: emits accepted connections, never deletes a regular file, removes only its own socket', async () => {
    const path = tmp.path('raw.sock');
    const accepted = firstValueFrom(listenUnix(path, { mode: 0o777 }).pipe(take(1)));
    await waitFor('socket', () => existsSync(path));
    const backend = await FakeBackend.open(path);
    const socket = await accepted; // take(1) unsubscribed: listener closed, file removed
    expect(existsSync(path)).toBe(false);
    expect(socket.destroyed).toBe(false); // but the accepted connection is the subscriber's
    socket.destroy();
    await backend.closed;

    writeFileSync(path, 'x');
    await expect(firstValueFrom(listenUnix(path, { mode: 0o777 }))).rejects.toMatchObject({ code: 'LISTEN_NOT_A_SOCKET' });
    expect(readFileSync(path, 'utf8')).toBe('x');
  });
});
