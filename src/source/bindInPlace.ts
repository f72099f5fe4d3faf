// Binding a socket at its own path, then giving it its mode and group there: the fast route of
// socketBind.ts, taken only where it is as safe as the private directory (privateBind.ts):
//
// - Nobody else can swap the path: only we (or root) can rename or remove entries of the
//   directory (socketDirectory.ts, onlyWeRename). Once bind() succeeded, the socket at the path
//   is ours and stays ours. Even so, the chmod/chown never follow a symlink: the path is opened
//   with O_PATH | O_NOFOLLOW, whatever is there must be a socket, and the chmod goes through that
//   descriptor (/proc/self/fd/N names the file it holds, not the path). So a path changed under
//   us anyway (by root, or by someone who can rename a directory above ours) costs at worst a
//   failed listen, never another file's mode.
// - Nobody can connect before the mode is given who could not connect after: the socket listens
//   from bind() on, with the mode bind() gave it (BindWindow), until the chmod. That is allowed
//   only when that mode and group give no one write permission the wanted ones do not
//   (`bindGivesNoMore`). Write is the only permission a unix socket has: connect() needs it and
//   nothing needs read or execute (unix(7): "connecting to a stream socket object requires write
//   permission on that socket").
//
// What it saves, per socket, on the machine's ext4 (no journal): a mkdir and an rmdir, whose
// freed inode every inode allocation for the next minute then skips over (the kernel's
// recently_deleted(), one buffer lookup per skipped inode): the private directories made 10,000
// binds quadratic. And 5 system calls besides bind() (open, fstat, chmod, fstat, close) where the
// private directory took 10 (mkdtemp, open, fstat, chmod, lstat, link, unlink, rmdir, close, and a
// stat of the parent).
//
// libuv unlinks the path a server was bound at when it closes. Here that is the socket's own
// path, which (above) holds our socket until then.
import { chmodSync, chownSync, closeSync, constants, existsSync, fstatSync, lstatSync, openSync, type Stats } from 'node:fs';
import type { BindWindow } from './socketDirectory';
import type { SocketBind } from './binding';

/** Linux's O_PATH (the same number on x86-64 and arm64); node does not export it. */
const O_PATH = 0o10000000;
const PROC_FD = '/proc/self/fd';
const WRITE = { user: 0o200, group: 0o020, other: 0o002 };
const useProc = process.platform === 'linux' && existsSync(PROC_FD);

/**
 * Whether a socket with `window`'s mode and group lets no one write (connect) whom `mode` and
 * `gid` would not let. People fall into four sets by the two groups: in both (group bits before
 * and after), in the first only (group bits, then the others' bits), in the second only (the
 * others', then group), in neither (the others' both times). The owner is us, before and after.
 */
export function bindGivesNoMore(window: BindWindow, mode: number, gid: number | undefined): boolean {
  const before = (who: keyof typeof WRITE): boolean => (window.mode & WRITE[who]) !== 0;
  const after = (who: keyof typeof WRITE): boolean => (mode & WRITE[who]) !== 0;
  if (before('user') && !after('user')) return false;
  if (gid === undefined || gid === window.gid) return (!before('group') || after('group')) && (!before('other') || after('other'));
  const everyone = after('group') && after('other'); // what a member of only one of the groups is sure to keep
  return (!before('group') || everyone) && (!before('other') || everyone);
}

/** A socket bound at `target` itself, to be given `mode` and `gid` there; `window` is what bind() gives it. */
export function bindInPlace(target: string, window: BindWindow): SocketBind {
  return {
    bindPath: target,
    holdsDirectory: false,
    bound: () => undefined,
    place(placeAt, mode, gid) {
      const chmod = window.mode !== (mode & 0o7777);
      const chown = gid !== undefined && gid !== window.gid;
      if (!chmod && !chown) return ours(lstatSync(placeAt), placeAt); // bind() gave it all already
      if (!useProc) {
        // Without /proc: by path, which only we (or root) can swap here (see above).
        if (chmod) chmodSync(placeAt, mode);
        if (chown) chownSync(placeAt, -1, gid);
        return ours(lstatSync(placeAt), placeAt);
      }
      const fd = openSync(placeAt, O_PATH | constants.O_NOFOLLOW);
      try {
        ours(fstatSync(fd), placeAt);
        const file = `${PROC_FD}/${fd}`;
        if (chmod) chmodSync(file, mode);
        if (chown) chownSync(file, -1, gid);
        return fstatSync(fd);
      } finally {
        closeSync(fd);
      }
    },
    dispose: () => undefined,
  };
}

/** `stats` if they are a socket's: anything else at the path is not ours (code EEXIST, as for privateBind). */
function ours(stats: Stats, path: string): Stats {
  if (stats.isSocket()) return stats;
  throw Object.assign(new Error(`${path} is no longer the socket we bound there`), { code: 'EEXIST' });
}
