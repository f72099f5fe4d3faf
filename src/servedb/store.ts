// The serve database on disk (docs/serve-db.md): reading serves.new and
// serves.loaded, and the two ways a serves.new leaves the directory. Every step is safe to
// crash in and safe to repeat, so the caller can simply look again after any failure.
import { constants } from 'node:fs';
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode } from './errors';

export const SERVES_NEW = 'serves.new';
export const SERVES_LOADED = 'serves.loaded';
export const SERVES_REJ = 'serves.rej';
export const LAST_ERROR = 'last_error';

/**
 * Which version of serves.new was read. Before removing or renaming serves.new we check it is
 * still that file: a writer that replaced it in the meantime (by rename, as the spec asks)
 * must not lose its file to our clean-up of the previous one.
 */
export interface FileStamp {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export type ServesNewFile =
  | { readonly kind: 'absent' }
  | {
      readonly kind: 'new';
      readonly text: string;
      readonly stamp: FileStamp;
      readonly mode: number; // permission bits, given to serves.loaded: it holds the same tokens
    };

/** What the last step did to serves.new: `superseded` means a newer one is there, look again. */
export type StoreResult = 'done' | 'superseded';

export async function readServesNew(dir: string): Promise<ServesNewFile> {
  let handle;
  try {
    // O_NONBLOCK: a serves.new that is a FIFO would otherwise hold open() (and a thread of
    // libuv's pool) until some writer came, and every later look and the stop behind it. On a
    // regular file it changes nothing; anything else is refused below.
    handle = await open(path.join(dir, SERVES_NEW), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  try {
    // Stamp and content from one open file, so they describe the same version.
    const stats = await handle.stat();
    if (!stats.isFile()) throw Object.assign(new Error(`${SERVES_NEW} is not a regular file`), { code: 'EISDIR' });
    const text = await handle.readFile({ encoding: 'utf8' });
    return { kind: 'new', text, stamp: stampOf(stats), mode: stats.mode & 0o777 };
  } finally {
    await handle.close();
  }
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
 * Accept: copy `text` to serves.loaded durably, then remove serves.rej and last_error (they
 * described an older file), then serves.new if it is still the file that was read.
 */
export async function acceptServes(dir: string, text: string, read: FileStamp, mode: number): Promise<StoreResult> {
  await writeFileDurably(dir, SERVES_LOADED, text, mode);
  await removeIfPresent(path.join(dir, SERVES_REJ));
  await removeIfPresent(path.join(dir, LAST_ERROR));
  // serves.new goes last: a crash before this leaves it in place, and the next look accepts it
  // again, which changes nothing.
  if (await replacedSince(dir, read)) return 'superseded';
  await removeIfPresent(path.join(dir, SERVES_NEW));
  return 'done';
}

/**
 * Reject: write last_error, then rename serves.new to serves.rej. In that order, so that once
 * serves.rej appears, last_error already explains it.
 */
export async function rejectServes(dir: string, error: string, read: FileStamp): Promise<StoreResult> {
  if (await replacedSince(dir, read)) return 'superseded';
  await writeFileDurably(dir, LAST_ERROR, error.endsWith('\n') ? error : `${error}\n`, 0o644);
  try {
    await rename(path.join(dir, SERVES_NEW), path.join(dir, SERVES_REJ));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 'done'; // the operator removed it meanwhile
    throw err;
  }
  return 'done';
}

const TEMP_FILE = /^\.(serves\.loaded|last_error)\.\d+\.\d+\.tmp$/;

/** Removes temporary files a crash left behind. For start-up, before anything else writes. */
export async function removeStaleTempFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (TEMP_FILE.test(name)) await removeIfPresent(path.join(dir, name));
  }
}

let tempSequence = 0;

/**
 * Replaces `name` so that a reader (or a crash) sees the old content or the new, never a mix:
 * write a temporary file in the same directory, fsync it, rename it over `name`, fsync the
 * directory so the rename itself is on disk.
 */
export async function writeFileDurably(dir: string, name: string, text: string, mode: number): Promise<void> {
  const target = path.join(dir, name);
  const temp = path.join(dir, `.${name}.${process.pid}.${tempSequence++}.tmp`);
  try {
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
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

async function replacedSince(dir: string, read: FileStamp): Promise<boolean> {
  try {
    return !sameStamp(stampOf(await stat(path.join(dir, SERVES_NEW))), read);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false; // gone: nothing newer to protect
    throw err;
  }
}

async function removeIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

function stampOf(stats: { dev: number; ino: number; size: number; mtimeMs: number }): FileStamp {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
