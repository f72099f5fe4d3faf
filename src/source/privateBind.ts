// Creating a socket file with an operator's mode and group without ever following a path someone
// else can swap. The socket directory is often writable by others (PostgreSQL's user must reach
// it), and chmod/chown on the final path after bind() follow whatever is there by then: swap in a
// symlink between bind() and chmod() and a root collector would chmod the symlink's target.
// fchmod does not exist for a unix socket's file, and umask is process-wide (another thread's
// file created meanwhile would get our mode), so instead:
//
//   1. mkdtemp a private directory beside the target (mode 0700: only we can add or swap entries)
//      and hold it open, so a rename of the directory by someone with write access to the parent
//      cannot slip another directory under us: every later step goes through /proc/self/fd/N;
//   2. bind there, chmod and chown the socket there;
//   3. link() it to the target path (link never follows the target and fails if anything is
//      there: something that appeared since we looked is never replaced), unlink the private
//      name and remove the directory.
//
// Without /proc (not Linux), the steps use the directory's path: still private, but a rename of
// the directory itself by someone who can write the parent is then not detected.
//
// Holding the directory costs a descriptor per listener for its whole life (libuv unlinks the
// bound path when the server closes, so /proc/self/fd/N must keep naming our directory): 10,000
// serves took 20,000 descriptors and ran into the open-file limit. So it is held only where
// someone else could rename the directory: a parent writable by others and not sticky, or owned by
// someone else. Where only we (or root) can rename entries of the parent, as in a RuntimeDirectory
// of our own or a sticky /tmp, the directory's own path is as safe, and the descriptor is closed
// once the socket is in place.
//
// socketBind.ts takes this route wherever binding in place (bindInPlace.ts) is not as safe.
import { chmodSync, chownSync, closeSync, constants, existsSync, fstatSync, linkSync, lstatSync, mkdtempSync, openSync, rmdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SocketBind } from './binding';
import type { SocketDirectories } from './socketDirectory';

const PROC_FD = '/proc/self/fd';
const MAX_BIND_PATH_BYTES = 107; // sun_path less its NUL, as MAX_UNIX_SOCKET_PATH_BYTES in listenUnix.ts

/** A private directory beside `target` (same file system, so link() works), held open. */
export function privateBind(target: string, directories: SocketDirectories): SocketBind {
  // A leading dot keeps it out of `ls` and out of anyone's glob for *.sock; ".plc-" says whose it is.
  const dir = mkdtempSync(join(dirname(target), `.plc-${basename(target).slice(0, 8)}-`));
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    // Swapped between mkdtemp and open: someone else's directory (or not ours to trust).
    if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== process.getuid()) || (st.mode & 0o077) !== 0) {
      throw Object.assign(new Error(`private directory ${dir} was replaced while it was being created`), { code: 'EPERM' });
    }
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    try {
      rmdirSync(dir);
    } catch {
      // not ours any more, or gone
    }
    throw error;
  }
  const held: number = fd;
  // Through the held descriptor when /proc is there: short (sun_path is 108 bytes, and the private
  // directory's name would add ~20) and immune to renames of the directory.
  const byPath = join(dir, 's');
  const release = Buffer.byteLength(byPath) <= MAX_BIND_PATH_BYTES && directories.onlyWeRename(dirname(target));
  const inside = release || !existsSync(`${PROC_FD}/${held}`) ? byPath : `${PROC_FD}/${held}/s`;
  if (Buffer.byteLength(inside) > MAX_BIND_PATH_BYTES) {
    // Only without /proc: node would truncate the path silently rather than fail.
    closeSync(held);
    rmdirSync(dir);
    throw Object.assign(new Error(`the private path ${inside} is too long for a unix socket`), { code: 'ENAMETOOLONG' });
  }
  let open = true;
  let removedDir = false;
  const close = (): void => {
    if (open) {
      open = false;
      closeSync(held);
    }
  };

  const removeDir = (): void => {
    if (removedDir) return;
    removedDir = true;
    try {
      unlinkSync(inside);
    } catch {
      // never bound, or already moved out
    }
    try {
      rmdirSync(dir);
    } catch {
      // gone already, or someone put something in it (then it is theirs to clean)
    }
  };

  return {
    bindPath: inside,
    bound: () => undefined,
    place(placeAt, mode, gid) {
      // chmod/chown by path, but the path resolves inside our 0700 directory through our own
      // descriptor: nobody else can put a symlink there.
      chmodSync(inside, mode);
      if (gid !== undefined) chownSync(inside, -1, gid);
      const stats = lstatSync(inside);
      linkSync(inside, placeAt);
      removeDir();
      if (release) close(); // libuv's unlink at close then finds nothing at the directory's old path
      return stats;
    },
    dispose() {
      removeDir();
      // Closed last: libuv unlinks the bound path (ours, via this descriptor) when the server
      // closes, and a recycled descriptor number must not point that unlink somewhere else.
      close();
    },
    holdsDirectory: !release,
  };
}
