// One daemon per serve database. Two collectors on one SERVE_DB_DIR would both take serves.new,
// both write serves.loaded, and fight over every socket; the second is refused at start-up.
//
// The lock is SERVE_DB_DIR/lock, created exclusively (O_EXCL) and holding the owner's PID. A lock
// whose PID is not a running process is stale (the owner crashed or was killed -9): it is taken
// over, and said so. No flock(2): Node has no binding for it, and a PID file is what an operator
// can read (`cat lock`) when told who holds the directory.
import { constants } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { describeFsError, errnoCode, ServeDbError } from './errors';

export const LOCK_FILE = 'lock';

export interface ServeDbLock {
  readonly staleTakenOver: number | undefined; // the PID of a dead owner whose lock we took (0: it named none)
  /** Removes the lock if it is still ours. Safe to call more than once. */
  release(): Promise<void>;
}

/** True when a process with this PID exists (possibly another user's: EPERM). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** The PID a lock file names, or undefined when it names none (empty, or half-written by a crash). */
async function holderOf(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * A lock file naming no PID is one being written by a collector starting right now (create, then
 * write) for this long; after that it is a crash's leftover.
 */
const STARTING_MS = 5_000;

async function youngerThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(file)).mtimeMs < ms;
  } catch {
    return false;
  }
}

/** Takes SERVE_DB_DIR/lock, or throws SERVEDB_LOCKED naming the daemon that holds it. */
export async function lockServeDb(dir: string): Promise<ServeDbLock> {
  const file = path.join(dir, LOCK_FILE);
  const mine = `${process.pid}\n`;
  let staleTakenOver: number | undefined;
  // Two rounds: one to find a stale lock and move it aside, one to take the lock.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      try {
        await handle.writeFile(mine, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      return { staleTakenOver, release: releaser(file, mine) };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        throw new ServeDbError('SERVEDB_UNREADABLE', `cannot create the lock ${file} (${describeFsError(err)}): check the directory's permissions`, { cause: err });
      }
    }
    const holder = await holderOf(file);
    if (holder === undefined && (await youngerThan(file, STARTING_MS))) {
      throw new ServeDbError('SERVEDB_LOCKED', `serve database ${dir} is being locked by another collector that is starting (${file}): stop it first, or point SERVE_DB_DIR at another directory`);
    }
    if (holder !== undefined && alive(holder)) {
      const who = holder === process.pid ? 'this process already has it open' : `PID ${holder} is running`;
      throw new ServeDbError(
        'SERVEDB_LOCKED',
        `serve database ${dir} is in use by another collector (${who}, per ${file}): stop it first, or point SERVE_DB_DIR at another directory`,
      );
    }
    // Stale (its process is gone) or unreadable garbage: move it aside under a name of our own,
    // then check that what we moved is what we judged. Another collector starting at the same
    // moment may have replaced it with a live lock; that one is put back and we go round again.
    const aside = `${file}.stale.${process.pid}`;
    try {
      await rename(file, aside);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue; // its owner released it meanwhile
      throw err;
    }
    const moved = await holderOf(aside);
    if (moved !== holder && moved !== undefined && alive(moved)) {
      await rename(aside, file).catch(() => undefined);
      continue;
    }
    await unlink(aside).catch(() => undefined);
    staleTakenOver = holder ?? 0;
  }
  throw new ServeDbError('SERVEDB_LOCKED', `serve database ${dir}: could not take ${file}; another collector keeps taking it`);
}

function releaser(file: string, mine: string): () => Promise<void> {
  let released: Promise<void> | undefined;
  return () =>
    (released ??= (async () => {
      try {
        if ((await readFile(file, 'utf8')) === mine) await unlink(file);
      } catch {
        // Gone already, or the directory went away: nothing of ours is left.
      }
    })());
}
