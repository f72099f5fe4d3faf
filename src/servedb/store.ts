// The serve database on disk (docs/serve-db.md): reading serves.new and serves.loaded, and the
// two ways a serves.new leaves the directory. Every step is safe to crash in and safe to repeat,
// so the caller can simply look again after any failure.
//
// A pass first *takes* serves.new: renames it to a private name, then reads what it renamed. What
// is accepted or rejected is therefore exactly what was read, and a serves.new written meanwhile
// is a new file, left alone for the next pass: the last file written always wins. (Reading in
// place and renaming serves.new to serves.rej afterwards lost a valid file written 100-120 ms
// after an invalid one in 6 of 56 trials: the rename took the newer file.)
import { constants } from 'node:fs';
import { chmod, link, lstat, open, readdir, readFile, rename, rmdir, stat, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode } from './errors';

export const SERVES_NEW = 'serves.new';
export const SERVES_LOADED = 'serves.loaded';
export const SERVES_REJ = 'serves.rej';
export const LAST_ERROR = 'last_error';

/** serves.loaded, serves.rej and last_error may hold tokens: only this user may read them. */
export const SECRET_FILE_MODE = 0o600;

/**
 * A serves.new larger than this is rejected unread: 100,000 serves take about 10 MB, and a file
 * read whole must not be able to take the collector's memory.
 */
export const MAX_SERVES_FILE_BYTES = 64 * 1024 * 1024;

/**
 * The number that makes a private name unique within this process: random rather than a module
 * counter, which two collectors in one process (each with its own directory) would share. Only
 * unique, never secret: Math.random, since node:crypto would be loaded for it alone at start-up
 * (~0.65 MB of an idle daemon's RSS, docs/benchmarks.md, *Idle*).
 */
const privateSuffix = (): number => Math.floor(Math.random() * 2 ** 47);

/** What taking serves.new found. `taken` is its private name until accepted or rejected. */
export type TakenServes =
  | { readonly kind: 'absent' }
  | { readonly kind: 'new'; readonly taken: string; readonly text: string }
  | { readonly kind: 'unusable'; readonly taken: string; readonly problem: string }; // reject unread

/**
 * Renames serves.new to a private name and reads it. Never opens anything but a regular file, and
 * that without blocking: a FIFO at serves.new used to block the pass (and shutdown) forever in
 * open(). On a read failure the file is put back (see restoreServesNew) and the error thrown.
 */
export async function takeServesNew(dir: string): Promise<TakenServes> {
  const taken = path.join(dir, `.${SERVES_NEW}.${process.pid}.${privateSuffix()}.taken`);
  try {
    await rename(path.join(dir, SERVES_NEW), taken);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  try {
    const problem = await unusableReason(taken);
    if (problem !== undefined) return { kind: 'unusable', taken, problem };
    // O_NONBLOCK: should the file be swapped for a FIFO between the look above and this open.
    const handle = await open(taken, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) return { kind: 'unusable', taken, problem: `${SERVES_NEW} is ${kindOf(stats)}, not a regular file` };
      if (stats.size > MAX_SERVES_FILE_BYTES) return { kind: 'unusable', taken, problem: tooLarge(stats.size) };
      return { kind: 'new', taken, text: await handle.readFile({ encoding: 'utf8' }) };
    } finally {
      await handle.close();
    }
  } catch (err) {
    await restoreServesNew(dir, taken);
    throw err;
  }
}

/** Why serves.new (taken) cannot be read as a serves file, without opening it; undefined if it can. */
async function unusableReason(taken: string): Promise<string | undefined> {
  const own = await lstat(taken);
  if (own.isFile()) return own.size > MAX_SERVES_FILE_BYTES ? tooLarge(own.size) : undefined;
  if (!own.isSymbolicLink()) return `${SERVES_NEW} is ${kindOf(own)}, not a regular file; write the serves file, then rename it to ${SERVES_NEW}`;
  let target;
  try {
    target = await stat(taken);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ELOOP') return `${SERVES_NEW} is a symbolic link to nothing`;
    throw err;
  }
  if (!target.isFile()) return `${SERVES_NEW} is a symbolic link to ${kindOf(target)}, not to a regular file`;
  return target.size > MAX_SERVES_FILE_BYTES ? tooLarge(target.size) : undefined;
}

const tooLarge = (size: number): string =>
  `${SERVES_NEW} is ${size} bytes, more than the ${MAX_SERVES_FILE_BYTES} a serves file may have`;

function kindOf(stats: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Puts a taken file back as serves.new, unless a newer serves.new is there already (then the
 * newer one wins and ours is dropped). link() never replaces an existing name, so this cannot
 * clobber a file written meanwhile.
 */
export async function restoreServesNew(dir: string, taken: string): Promise<void> {
  try {
    await link(taken, path.join(dir, SERVES_NEW));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return; // nothing to put back
    if (code !== 'EEXIST') {
      // A file system without hard links, or a directory we took: rename, checking first.
      if (!(await exists(path.join(dir, SERVES_NEW)))) {
        await rename(taken, path.join(dir, SERVES_NEW));
        return;
      }
    }
  }
  await removeIfPresent(taken);
}

/** serves.loaded's text, or undefined when there is none yet (a fresh database). */
export async function readServesLoaded(dir: string): Promise<string | undefined> {
  try {
    return await readFile(path.join(dir, SERVES_LOADED), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Accept: copy `text` to serves.loaded durably (0600), remove serves.rej and last_error (they
 * described an older file), then the taken file. A crash before the last step leaves the taken
 * file, which start-up puts back as serves.new: accepting it again changes nothing.
 */
export async function acceptServes(dir: string, text: string, taken: string): Promise<void> {
  await writeFileDurably(dir, SERVES_LOADED, text, SECRET_FILE_MODE);
  await removeIfPresent(path.join(dir, SERVES_REJ));
  await removeIfPresent(path.join(dir, LAST_ERROR));
  await removeIfPresent(taken);
}

/**
 * Reject: write last_error (0600), then move the taken file to serves.rej (made 0600 too when it
 * is a regular file: it may hold tokens). In that order, so that once serves.rej appears,
 * last_error already explains it.
 */
export async function rejectServes(dir: string, error: string, taken: string): Promise<void> {
  await writeFileDurably(dir, LAST_ERROR, error.endsWith('\n') ? error : `${error}\n`, SECRET_FILE_MODE);
  const own = await lstat(taken);
  if (own.isFile()) await chmod(taken, SECRET_FILE_MODE); // never through a symbolic link
  const rej = path.join(dir, SERVES_REJ);
  try {
    await rename(taken, rej);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EISDIR' && code !== 'ENOTDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    // A directory and a file cannot replace each other: the old serves.rej described an older file.
    await removeIfPresent(rej);
    await rename(taken, rej);
  }
}

const TEMP_FILE = /^\.(serves\.loaded|last_error)\.\d+\.\d+\.tmp$/;
const TAKEN_FILE = /^\.serves\.new\.\d+\.\d+\.taken$/;

/**
 * For start-up, before anything else writes: removes temporary files a crash left behind, puts
 * back a serves.new a crashed pass had taken (unless a newer one was written since), and makes
 * the files that hold tokens 0600 (earlier versions gave serves.loaded serves.new's mode, and
 * serves.rej and last_error 0644).
 */
export async function recoverAfterCrash(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (TEMP_FILE.test(name)) await removeIfPresent(path.join(dir, name));
    else if (TAKEN_FILE.test(name)) await restoreServesNew(dir, path.join(dir, name));
    else if (name === SERVES_LOADED || name === SERVES_REJ || name === LAST_ERROR) await keepPrivate(path.join(dir, name));
  }
}

async function keepPrivate(file: string): Promise<void> {
  const stats = await lstat(file);
  // Never through a symbolic link: what it points at is not ours to change.
  if (stats.isFile() && (stats.mode & 0o077) !== 0) await chmod(file, SECRET_FILE_MODE);
}

/**
 * Replaces `name` so that a reader (or a crash) sees the old content or the new, never a mix:
 * write a temporary file in the same directory, fsync it, rename it over `name`, fsync the
 * directory so the rename itself is on disk. The file gets exactly `mode`, whatever the umask.
 */
export async function writeFileDurably(dir: string, name: string, text: string, mode: number): Promise<void> {
  const target = path.join(dir, name);
  const temp = path.join(dir, `.${name}.${process.pid}.${privateSuffix()}.tmp`);
  try {
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await handle.chmod(mode); // O_CREAT's mode is masked by the umask
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await removeIfPresent(temp);
    throw err;
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems (certain network and FUSE mounts) cannot fsync a directory; the rename
    // is still atomic there, only its durability is up to the file system.
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP') throw err;
  } finally {
    await handle.close();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

async function removeIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    const code = errnoCode(err);
    // unlink(2) refuses directories (EISDIR on Linux, EPERM elsewhere): a rejected serves.new that
    // was a directory. Only an empty one is removed; anything in it is the operator's.
    if (code === 'EISDIR' || code === 'EPERM') await rmdir(file);
    else if (code !== 'ENOENT') throw err;
  }
}
