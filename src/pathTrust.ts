// Whether a directory the operator named can be trusted not to change under us: the serve
// database (it decides where logs and tokens go) and the spool (its files hold tokens). A
// directory is only as safe as the path to it: whoever may rename an entry on the way may swap
// our directory for theirs after every check we make inside it. So, as ssh's StrictModes does,
// every directory on the way, and every symlink that leads there, must be ours or root's, and a
// directory on the way that others may write must be sticky (as /tmp is: only an entry's owner
// may rename or remove it). The directory's own mode is the caller's rule: the spool makes a
// directory of its own inside it, the serve database is written in place.
import type { Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';

/** Something on the way to a directory that another user could change, and how to fix it. */
export interface UntrustedPath {
  readonly path: string; // the directory or link at fault
  readonly what: string; // "belongs to uid 65534", "is a symlink made by uid 65534", ...
  readonly fix: string; // one imperative: "chown root /srv", "chmod o-w /srv"
}

/** This process's uid, or undefined where the platform has none. */
export const ownUid = (): number | undefined => process.getuid?.();

/** Ours, or any when this platform has no uids. */
export const ownedByUs = (s: Stats): boolean => ownUid() === undefined || s.uid === ownUid();

/** Ours, root's, or any when this platform has no uids. */
export const ownedByUsOrRoot = (s: Stats): boolean => ownedByUs(s) || s.uid === 0;

/** Group or others may write it. */
export const writableByOthers = (s: Stats): boolean => (s.mode & 0o022) !== 0;

/** A mode as chmod takes it: `0755`, `01777`. */
export const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

/** Every prefix of an absolute path, shortest first, without the root: /a, /a/b, /a/b/c. */
function prefixes(absolute: string): string[] {
  const parts = absolute.split(sep).filter((p) => p.length > 0);
  return parts.map((_, i) => sep + parts.slice(0, i + 1).join(sep));
}

/**
 * The first thing on the way to `dir` (not `dir` itself, whose rules are the caller's) that
 * another user could change, or undefined when there is none. `dir` must exist.
 */
export async function untrustedWayTo(dir: string): Promise<UntrustedPath | undefined> {
  const given = resolve(dir);
  // The links as named: a link another user made may be pointed elsewhere at any time.
  for (const at of prefixes(given)) {
    const s = await lstat(at);
    if (s.isSymbolicLink() && !ownedByUsOrRoot(s)) {
      return { path: at, what: `is a symlink made by uid ${s.uid}`, fix: `use the real path, or replace the link with one of root's or this daemon's user's (uid ${ownUid() ?? '?'})` };
    }
  }
  // The directories the links lead through.
  const real = await realpath(given);
  for (const at of ['/', ...prefixes(dirname(real))].filter((p, i, all) => all.indexOf(p) === i && p !== real)) {
    const s = await stat(at);
    if (!ownedByUsOrRoot(s)) {
      return { path: at, what: `belongs to uid ${s.uid}, who could move ${real} away and put another in its place`, fix: `chown root ${at}, or move the directory to a path only root and this daemon's user (uid ${ownUid() ?? '?'}) control` };
    }
    const sticky = (s.mode & 0o1000) !== 0;
    if (writableByOthers(s) && !sticky) {
      return { path: at, what: `is writable by group or others (mode ${octal(s.mode)}), who could move ${real} away and put another in its place`, fix: `chmod go-w ${at}` };
    }
  }
  return undefined;
}
