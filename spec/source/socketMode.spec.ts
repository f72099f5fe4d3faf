// Sockets an operator can lock down: the mode and group asked for are on the file before it
// appears at its path, and a path swapped for a symlink meanwhile is never followed.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { Server } from 'node:net';
import { basename } from 'node:path';
import { lookupGroupId } from '../../src/source/group';
import { FakeBackend, Harness, makeServe, otherGid, record, tempDir, waitFor } from './support';
import { withUmask } from '../support/umask';

describe('socket mode and group', () => {
  let tmp: ReturnType<typeof tempDir>;
  let harness: Harness | undefined;

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    harness?.unsubscribe();
    harness = undefined;
    jest.restoreAllMocks();
    tmp.remove();
  });

  it('gives the socket the mode and group asked for, whatever the umask, and PostgreSQL can still connect', async () => {
    const gid = otherGid();
    const h = (harness = new Harness({ socketMode: 0o660, socketGroup: gid }));
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await withUmask(0o077, () => h.apply([serve]));
    const stat = lstatSync(serve.socketPath);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o7777).toBe(0o660);
    expect(stat.gid).toBe(gid);
    expect(harness.eventsOf('listening')).toEqual([expect.objectContaining({ socket: serve.socketPath, mode: '0660', group: gid })]);
    // Nothing left beside it: the private directory it was made in is gone.
    expect(readdirSync(tmp.dir)).toEqual(['a.sock']);

    const backend = await FakeBackend.open(serve.socketPath, 'db');
    await backend.send(record(1, 1));
    await waitFor('record', () => harness!.records.length === 1);
    harness.unsubscribe();
    expect(existsSync(serve.socketPath)).toBe(false);
  });

  it('never chmods through a symlink swapped in at the socket path while the socket is being made', async () => {
    const victim = tmp.path('victim');
    writeFileSync(victim, 'secret');
    chmodSync(victim, 0o600);
    const serve = makeServe(tmp.path('a.sock'), 'db');
    // The attacker: right after bind(), before the collector's next step, replaces whatever is at
    // the socket path with a symlink to a file the collector's user may change.
    const listen = Server.prototype.listen;
    jest.spyOn(Server.prototype, 'listen').mockImplementation(function (this: Server, ...args: Parameters<Server['listen']>) {
      const result = listen.apply(this, args);
      rmSync(serve.socketPath, { force: true });
      symlinkSync(victim, serve.socketPath);
      return result;
    });
    harness = new Harness({ socketMode: 0o777, listenRetryMs: 0 });
    await harness.apply([serve]);

    expect(statSync(victim).mode & 0o7777).toBe(0o600); // not followed
    expect(readlinkSync(serve.socketPath)).toBe(victim); // and not replaced either: it is not ours
    expect(harness.eventsOf('listening')).toEqual([]);
    expect(harness.eventsOf('listen_error')).toEqual([expect.objectContaining({ code: 'LISTEN_IN_USE' })]);
    harness.unsubscribe();
    expect(readdirSync(tmp.dir).sort()).toEqual(['a.sock', basename(victim)]); // no private directory left
  });
});

/** Whether `user` can connect to the unix socket at `path`, tried as that user (needs root and runuser). */
function canConnectAs(user: string, path: string): string {
  const script = `require('net').createConnection(${JSON.stringify(path)}).on('connect', () => { process.stdout.write('connected'); process.exit(0); }).on('error', (e) => { process.stdout.write(e.code); process.exit(0); })`;
  return execFileSync('runuser', ['-u', user, '--', process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
}

const postgresGid = lookupGroupId('postgres');
const asRootWithPostgres = process.getuid?.() === 0 && postgresGid !== undefined && existsSync('/usr/sbin/runuser');

// The point of the two flags: PostgreSQL's user gets in through the group, other users do not.
(asRootWithPostgres ? describe : describe.skip)('a socket locked down to PostgreSQL (as root, with a postgres user)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let harness: Harness | undefined;
  beforeEach(() => {
    tmp = tempDir();
    chmodSync(tmp.dir, 0o755); // mkdtemp made it 0700: let other users reach the socket
  });
  afterEach(() => {
    harness?.unsubscribe();
    tmp.remove();
  });

  it('lets the postgres user connect through --socket-group postgres with 0660, and nobody else', async () => {
    harness = new Harness({ socketMode: 0o660, socketGroup: postgresGid });
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await harness.apply([serve]);
    expect(canConnectAs('postgres', serve.socketPath)).toBe('connected');
    expect(canConnectAs('nobody', serve.socketPath)).toBe('EACCES');
  });
});

describe('lookupGroupId', () => {
  it('takes a gid or a group name, and says when there is no such group', () => {
    expect(lookupGroupId('4242')).toBe(4242);
    expect(lookupGroupId('root')).toBe(0);
    expect(lookupGroupId('no-such-group-here')).toBeUndefined();
    expect(lookupGroupId('bad name; rm')).toBeUndefined();
  });
});
