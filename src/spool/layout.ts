// What the spool owns on disk, and the checks that keep it from trusting, or touching, anything
// else. The operator names a directory; the spool makes one of its own inside it and works only
// there:
//
//   SPOOL_DIR/                          the operator's: looked at, never chmodded, emptied or removed
//     pg-logplexcollector-spool/        ours: made by us, 0700, our uid, holds the marker
//       SPOOL                           the marker: this directory is a spool, in this layout
//       <socket path, base64url>/       0700, one per serve: the name says whose it is
//         0000000000000001.seg          0600, a regular file of our uid with one link
//
// Trust rests on ownership and modes, as ssh's StrictModes does: SPOOL_DIR and every directory
// and link on the way to it are our user's or root's and nobody else may write them (unless
// sticky, like /tmp), so nobody else can swap our directory for theirs (pathTrust.ts); our
// directory is ours and writable by us alone, so nothing appears in it that we did not put there.
// Each file is still opened without following a symlink and checked after the open (fstat: what
// we read is what we checked), so that a file that does not check out is skipped, never read,
// truncated, unlinked or posted: a planted segment holds a URL and token of someone's choosing.
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CollectorError } from '../errors';
import type { SchedulerLike } from '../rx';
import { octal, ownedByUs, ownedByUsOrRoot, ownUid, untrustedWayTo, writableByOthers } from '../pathTrust';
import { within } from '../within';
import { errnoOf, SpoolOpenError } from './errors';

export const ROOT_NAME = 'pg-logplexcollector-spool';
export const MARKER_NAME = 'SPOOL';
export const MARKER_TEXT = 'pg-logplexcollector spool, layout 1: written by pg-logplexcollector only; put nothing else here\n';

const SEGMENT_SUFFIX = '.seg';
const SEGMENT_NAME = /^(\d{16})\.seg$/;
const MAX_SOCKET_PATH_BYTES = 107; // what a unix socket address holds, as the serve db checks

export const segmentName = (seq: number): string => `${String(seq).padStart(16, '0')}${SEGMENT_SUFFIX}`;

/** The sequence number a segment's name holds, or undefined when it is not a segment's name. */
export function segmentSeq(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** A serve's directory is named by its socket path, so that start-up knows whose it is without reading it. */
export const serveDirName = (socketPath: string): string => Buffer.from(socketPath, 'utf8').toString('base64url');

/** The socket path a serve directory's name holds, or undefined when it is no serve directory's name. */
export function socketPathOf(name: string): string | undefined {
  const bytes = Buffer.from(name, 'base64url');
  const path = bytes.toString('utf8');
  const canonical = bytes.length > 0 && bytes.length <= MAX_SOCKET_PATH_BYTES && serveDirName(path) === name;
  return canonical && path.startsWith('/') && !path.includes('\0') ? path : undefined;
}

/** Why an entry of our directory is not used. */
export type Untrusted =
  | 'unknown_name' // not a name of our layout
  | 'symlink'
  | 'not_directory'
  | 'not_regular' // a directory, FIFO, socket or device where a segment should be
  | 'foreign_owner' // another user's
  | 'open_mode' // group or others may write (a directory) or read and write (a segment)
  | 'linked' // a segment with another hard link: it is also a file elsewhere
  | 'unreadable'; // lstat/open/read failed (the errno is said beside)

/** An entry the spool leaves alone, and why. */
export class UntrustedEntry extends CollectorError {
  readonly code = 'SPOOL_ENTRY_UNTRUSTED';
  override readonly name = 'UntrustedEntry';

  constructor(
    readonly path: string,
    readonly reason: Untrusted,
    readonly errno: string | undefined = undefined,
  ) {
    super(`spool: ${path}: ${reason}${errno === undefined ? '' : ` (${errno})`}`);
  }
}


/** Why a serve directory found in ours is not to be used, or undefined when it is ours. */
export async function checkServeDir(path: string): Promise<Untrusted | undefined> {
  const s = await lstat(path);
  if (s.isSymbolicLink()) return 'symlink';
  if (!s.isDirectory()) return 'not_directory';
  if (!ownedByUs(s)) return 'foreign_owner';
  if (writableByOthers(s)) return 'open_mode';
  return undefined;
}

/** A segment's checks, on what the descriptor refers to (after the open: no swap in between). */
function segmentProblem(s: Stats): Untrusted | undefined {
  if (!s.isFile()) return 'not_regular';
  if (!ownedByUs(s)) return 'foreign_owner';
  if ((s.mode & 0o066) !== 0) return 'open_mode';
  if (s.nlink !== 1) return 'linked';
  return undefined;
}

/** Opens an existing segment for reading and writing, or throws UntrustedEntry. Never follows a symlink. */
export async function openSegment(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted under a segment's name would otherwise block the open forever.
    handle = await open(path, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ELOOP') throw new UntrustedEntry(path, 'symlink');
    if (errno === 'EISDIR') throw new UntrustedEntry(path, 'not_regular');
    throw new UntrustedEntry(path, 'unreadable', errno);
  }
  let problem: Untrusted | undefined;
  try {
    problem = segmentProblem(await handle.stat());
  } catch (err) {
    await handle.close();
    throw new UntrustedEntry(path, 'unreadable', errnoOf(err));
  }
  if (problem !== undefined) {
    await handle.close();
    throw new UntrustedEntry(path, problem);
  }
  return handle;
}

/** Creates a new segment (never an existing file, never through a symlink), 0600. */
export function createSegment(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
}

/** Makes a serve's directory in ours (our directory exists: nothing above it is made). */
export async function makeServeDir(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw err;
  }
}

/** `work`, or a SPOOL_OPEN_TIMEOUT naming `what` once `ms` passed on `scheduler` without it settling. */
export function withDeadline<T>(ms: number, what: string, work: Promise<T>, scheduler: SchedulerLike): Promise<T> {
  return within(ms, scheduler, work, () => {
    throw new SpoolOpenError('SPOOL_OPEN_TIMEOUT', `spool: ${what} did not finish within ${ms} ms: check that file system (a hung mount?), or choose another spool directory (--spool-dir)`);
  });
}

const HINTS: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  ENOENT: 'a directory on the way cannot be made there',
  EACCES: 'this user may not write there',
  EPERM: 'this user may not write there',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the file system is full',
};

function unusable(path: string, err: unknown): SpoolOpenError {
  if (err instanceof SpoolOpenError) return err;
  const errno = errnoOf(err);
  const hint = HINTS[errno] ?? 'see the error code';
  return new SpoolOpenError('SPOOL_DIR_UNUSABLE', `spool: cannot use ${path} (${errno}: ${hint}): fix it, or choose another spool directory (--spool-dir)`, { cause: err });
}

function unsafe(path: string, what: string, fix: string): SpoolOpenError {
  return new SpoolOpenError('SPOOL_DIR_UNSAFE', `spool: ${path} ${what}, so another user could plant or take spooled batches (which hold tokens): ${fix}`);
}

/**
 * Makes (or checks) the spool's own directory inside `dir` and returns its path. Each step has
 * `deadlineMs`; nothing is chmodded, and nothing but missing directories and our own marker is
 * made. Throws a SpoolOpenError saying what to fix.
 */
export async function openRoot(dir: string, deadlineMs: number, scheduler: SchedulerLike): Promise<string> {
  const step = <T>(what: string, work: Promise<T>): Promise<T> => withDeadline(deadlineMs, `${what} ${dir}`, work, scheduler);
  try {
    await ensureDir(dir, step);
    await checkSpoolDir(dir, step);
    const root = join(dir, ROOT_NAME);
    if (await step('making', mkdir(root, { mode: 0o700 }).then(() => true, (err: unknown) => (errnoOf(err) === 'EEXIST' ? false : Promise.reject(err))))) {
      await step('marking', writeMarker(root));
      return root;
    }
    await checkRoot(root, step);
    return root;
  } catch (err) {
    throw unusable(dir, err);
  }
}

type Step = <T>(what: string, work: Promise<T>) => Promise<T>;

/** mkdir -p without recursion in one call: node's recursive mkdir never settles under /proc. */
async function ensureDir(dir: string, step: Step, depth = 0): Promise<void> {
  try {
    await step('looking at', stat(dir));
    return;
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT' || depth > 64 || dirname(dir) === dir) throw err;
  }
  await ensureDir(dirname(dir), step, depth + 1);
  await step('making', mkdir(dir, { mode: 0o700 })).catch((err: unknown) => {
    if (errnoOf(err) !== 'EEXIST') throw err;
  });
}

/**
 * The operator's directory: followed if a link, it must be ours or root's and closed to others'
 * writes, and so must every directory and link on the way to it, itself included (pathTrust.ts).
 */
async function checkSpoolDir(dir: string, step: Step): Promise<void> {
  const s = await step('looking at', stat(dir));
  if (!s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  if (!ownedByUsOrRoot(s)) throw unsafe(dir, `belongs to uid ${s.uid}`, `chown it to this daemon's user (uid ${ownUid() ?? '?'}) or root`);
  const sticky = (s.mode & 0o1000) !== 0; // S_ISVTX: only an entry's owner may rename or remove it
  if (writableByOthers(s) && !sticky) throw unsafe(dir, `is writable by group or others (mode ${octal(s.mode)})`, `chmod go-w ${dir}`);
  const way = await step('looking at the way to', untrustedWayTo(dir));
  if (way !== undefined) throw unsafe(way.path, way.what, way.fix);
}

/** Our directory, found: ours, closed to others, and marked as ours (or empty: made by a start that died before marking it). */
async function checkRoot(root: string, step: Step): Promise<void> {
  const s = await step('looking at', lstat(root));
  if (s.isSymbolicLink()) throw unsafe(root, 'is a symlink', `remove the link; the spool makes ${ROOT_NAME} itself`);
  if (!s.isDirectory()) throw foreign(root);
  if (!ownedByUs(s)) throw unsafe(root, `belongs to uid ${s.uid}, not to this daemon's user (uid ${ownUid() ?? '?'})`, `chown -R it, or move it away`);
  if (writableByOthers(s)) throw unsafe(root, `is writable by group or others (mode ${octal(s.mode)})`, `chmod 0700 ${root}`);
  const marker = await step('reading', readMarker(join(root, MARKER_NAME)));
  if (marker === MARKER_TEXT) return;
  if (marker === undefined && (await step('listing', readdir(root))).length === 0) {
    await step('marking', writeMarker(root));
    return;
  }
  throw foreign(root);
}

function foreign(root: string): SpoolOpenError {
  return new SpoolOpenError(
    'SPOOL_DIR_FOREIGN',
    `spool: ${root} exists but was not made by pg-logplexcollector (no ${MARKER_NAME} marker in it): move it away, or choose another spool directory (--spool-dir)`,
  );
}

/** The marker's text, or undefined when there is none; a marker that is not our regular file reads as foreign. */
async function readMarker(path: string): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    return ''; // a symlink (ELOOP) or worse: not our marker
  }
  try {
    const s = await handle.stat();
    if (!s.isFile() || !ownedByUs(s) || s.size > 4096) return '';
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

async function writeMarker(root: string): Promise<void> {
  const handle = await open(join(root, MARKER_NAME), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(MARKER_TEXT, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}
