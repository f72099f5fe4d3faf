// One daemon per serve database. Two collectors on one SERVE_DB_DIR would both take serves.new,
// both write serves.loaded, and fight over every socket; the second is refused at start-up.
//
// The lock is SERVE_DB_DIR/lock, a unix socket its holder listens on. The kernel closes a
// process's sockets however it ends (kill -9, the OOM killer, a reboot), so whether the lock is
// held is answered by connect(): a live holder accepts (and says its PID, for the message only);
// a dead one's file refuses the connection and is taken over. No PID is trusted for liveness: in
// a container the daemon is PID 1 after every restart, and after a reboot the PID a file names
// may be any process's. (flock(2) would do as well, but node has no binding for it, and fcntl
// locks are out of reach without a native addon.)
//
// Taking the lock is atomic: the socket is bound under a name of our own, then hard-linked to
// `lock` (link fails if `lock` exists). A dead lock is renamed aside before ours is linked, and
// what was moved is probed again: if a collector starting at the same moment had just taken it,
// it is put back. A regular file at `lock` is an earlier version's PID file: its process is not
// asked (see above), only named in the take-over event.
import { chmod, link, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import * as path from 'node:path';
import { asyncScheduler, type SchedulerLike } from '../rx';
import { describeFsError, errnoCode, ServeDbError } from './errors';

export const LOCK_FILE = 'lock';

export interface ServeDbLock {
  readonly staleTakenOver: number | undefined; // the PID a dead owner's lock named, when we took it (0: it named none)
  /** Stops holding the lock and removes it if it is still ours. Safe to call more than once. */
  release(): Promise<void>;
}

/** What a unix socket address holds (sun_path, 108 bytes with its NUL). */
const MAX_SOCKET_ADDRESS_BYTES = 107;
/** How long a probe waits for a holder that accepted to say its PID (its event loop may be busy). */
const PROBE_MS = 2_000;
/** At most this many probes answered at once; more wait in the backlog (they only need the accept). */
const MAX_PROBES = 8;

type Probe =
  | { readonly kind: 'live'; readonly pid: number | undefined }
  | { readonly kind: 'dead' } // nothing listens: its holder is gone
  | { readonly kind: 'gone' } // no such file (any more)
  | { readonly kind: 'unknown'; readonly code: string }; // cannot tell (EACCES: another user's lock)

/** Whether something listens on `file`, and the PID it says. */
function probe(file: string, scheduler: SchedulerLike): Promise<Probe> {
  return new Promise((resolve) => {
    let text = '';
    let connected = false;
    const socket = createConnection(file);
    const done = (result: Probe): void => {
      timer.unsubscribe();
      socket.destroy();
      resolve(result);
    };
    const pidSaid = (): number | undefined => {
      const pid = Number(text.trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    };
    const timer = scheduler.schedule(() => done({ kind: 'live', pid: pidSaid() }), PROBE_MS);
    socket.setEncoding('utf8');
    socket.on('connect', () => (connected = true));
    socket.on('data', (chunk: string) => {
      text = (text + chunk).slice(0, 64);
    });
    socket.on('end', () => done({ kind: 'live', pid: pidSaid() }));
    socket.on('error', (err) => {
      if (connected) return done({ kind: 'live', pid: pidSaid() });
      const code = errnoCode(err) ?? 'UNKNOWN';
      if (code === 'ECONNREFUSED' || code === 'ENOTSOCK') return done({ kind: 'dead' });
      if (code === 'ENOENT') return done({ kind: 'gone' });
      if (code === 'EAGAIN') return done({ kind: 'live', pid: undefined }); // its backlog is full: it is there
      done({ kind: 'unknown', code });
    });
  });
}

/** The PID an earlier version's lock file names (it was a regular file holding it), or 0. */
async function legacyPid(file: string): Promise<number> {
  try {
    if (!(await stat(file)).isFile()) return 0;
    const pid = Number((await readFile(file, 'utf8')).slice(0, 32).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch {
    return 0;
  }
}

function listen(server: Server, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

const closeServer = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

/**
 * Takes SERVE_DB_DIR/lock, or throws SERVEDB_LOCKED naming the collector that holds it, and the
 * setting (`dirSetting`) the caller chose the directory with. A probe's wait runs on `scheduler`.
 */
export async function lockServeDb(dir: string, dirSetting = 'SERVE_DB_DIR', scheduler: SchedulerLike = asyncScheduler): Promise<ServeDbLock> {
  const file = path.join(dir, LOCK_FILE);
  // A socket's address holds 107 bytes: a longer SERVE_DB_DIR is reached through our descriptor
  // of it (/proc/self/fd/N), which names the same directory in a few bytes.
  let dirHandle: FileHandle | undefined;
  const address = async (name: string): Promise<string> => {
    const full = path.join(dir, name);
    if (Buffer.byteLength(full) <= MAX_SOCKET_ADDRESS_BYTES) return full;
    dirHandle ??= await open(dir, 'r');
    return `/proc/self/fd/${dirHandle.fd}/${name}`;
  };
  try {
    return await lockVia({ dir, file, address, dirSetting, probe: (name) => probe(name, scheduler) });
  } finally {
    await dirHandle?.close();
  }
}

/**
 * Eight hex digits that keep our names apart from another collector's starting at the same
 * moment. Only unique, never secret (the directory is the operator's, checked before use): from
 * Math.random, since node:crypto would be loaded for it alone at start-up (~0.65 MB of an idle
 * daemon's RSS, docs/benchmarks.md, *Idle*).
 */
const nameSuffix = (): string => Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0');

/** Where the lock is, and how to reach and probe a socket there. */
interface LockPlace {
  readonly dir: string;
  readonly file: string; // dir/lock
  readonly address: (name: string) => Promise<string>; // what to bind or connect to for `name` in dir
  readonly dirSetting: string;
  readonly probe: (address: string) => Promise<Probe>;
}

async function lockVia(place: LockPlace): Promise<ServeDbLock> {
  const { dir, file, address } = place;
  const server = createServer((peer) => {
    peer.on('error', () => undefined);
    peer.end(`${process.pid}\n`);
  });
  server.maxConnections = MAX_PROBES;
  server.unref(); // holding the lock is no reason for the process to stay
  const oursName = `.lock.${nameSuffix()}`;
  const ours = path.join(dir, oursName);
  try {
    await listen(server, await address(oursName));
    await chmod(ours, 0o600); // only our user (and root) may probe it
  } catch (err) {
    await closeServer(server);
    await unlink(ours).catch(() => undefined);
    throw new ServeDbError('SERVEDB_UNREADABLE', `cannot create the lock ${file} (${describeFsError(err)}): check the directory's permissions`, { cause: err });
  }
  try {
    const inode = (await stat(ours)).ino;
    const staleTakenOver = await take(place, ours);
    return { staleTakenOver, release: releaser(file, inode, server) };
  } catch (err) {
    await closeServer(server);
    throw err;
  } finally {
    await unlink(ours).catch(() => undefined); // linked to `lock` by now, or not wanted
  }
}

/** Links `ours` to `file`; returns the PID of a dead lock taken over (0: it named none), undefined when there was none. */
async function take({ dir, file, address, dirSetting, probe }: LockPlace, ours: string): Promise<number | undefined> {
  let staleTakenOver: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await link(ours, file);
      return staleTakenOver;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        throw new ServeDbError('SERVEDB_UNREADABLE', `cannot create the lock ${file} (${describeFsError(err)}): check the directory's permissions`, { cause: err });
      }
    }
    const found = await probe(await address(LOCK_FILE));
    if (found.kind === 'gone') continue; // its holder released it meanwhile
    if (found.kind === 'live') throw locked(dir, file, found.pid, dirSetting);
    if (found.kind === 'unknown') {
      throw new ServeDbError(
        'SERVEDB_LOCKED',
        `serve database ${dir}: cannot tell whether the collector that made ${file} still runs (${found.code}): run as the user that made it, or remove ${file} once sure none runs`,
      );
    }
    // Dead: move it aside under a name of our own, then check that what we moved is what we
    // judged. A collector starting at the same moment may have replaced it with a live lock;
    // that one is put back and we go round again.
    const pid = await legacyPid(file);
    const asideName = `${LOCK_FILE}.stale.${nameSuffix()}`;
    const aside = path.join(dir, asideName);
    try {
      await rename(file, aside);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw err;
    }
    if ((await probe(await address(asideName))).kind === 'live') {
      await link(aside, file).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
      continue;
    }
    await unlink(aside).catch(() => undefined);
    staleTakenOver = pid;
  }
  throw new ServeDbError('SERVEDB_LOCKED', `serve database ${dir}: could not take ${file}; another collector keeps taking it`);
}

function locked(dir: string, file: string, pid: number | undefined, dirSetting: string): ServeDbError {
  const who = pid === process.pid ? 'this process already has it open' : pid === undefined ? 'a collector answers on it' : `PID ${pid} is running`;
  return new ServeDbError(
    'SERVEDB_LOCKED',
    `serve database ${dir} is in use by another collector (${who}, per ${file}): stop it first, or point ${dirSetting} at another directory`,
  );
}

function releaser(file: string, inode: number, server: Server): () => Promise<void> {
  let released: Promise<void> | undefined;
  return () =>
    (released ??= (async () => {
      try {
        if ((await stat(file)).ino === inode) await unlink(file);
      } catch {
        // Gone already, or the directory went away: nothing of ours is left.
      }
      await closeServer(server);
    })());
}
