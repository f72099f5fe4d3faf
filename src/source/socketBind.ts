// Where a socket is bound before it gets its mode and group, chosen per socket:
//
// - in place (bindInPlace.ts): at its own path, then chmod/chown there. Only where nobody else can
//   swap the path (only we or root can rename entries of its directory) and where the socket as
//   bind() makes it lets no one connect whom the wanted mode and group would not let in.
// - in a private directory (privateBind.ts): everywhere else. Bound in a fresh 0700 directory
//   beside the target, given its mode and group there, then linked into place.
//
// What bind() gives a socket (its BindWindow) is not guessed from the umask: a default ACL on the
// directory replaces the umask, and a setgid directory gives its own group. It is measured: the
// first socket of a directory in each synchronous run goes the private way, and its mode and group
// right after bind() (before our chmod, inside the private directory, which inherits the parent's
// default ACL and setgid group as the socket would) decide for the rest of the run.
//
// Binding in place is what lets a large serve set start fast (docs/benchmarks.md, *Large serve sets*).
import { lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { bindGivesNoMore, bindInPlace } from './bindInPlace';
import { privateBind } from './privateBind';
import type { SocketBind } from './binding';
import type { SocketDirectories } from './socketDirectory';

export type { SocketBind } from './binding';

/** The way to bind a socket for `target` that will get `mode` and `gid` (may throw like privateBind). */
export function socketBind(target: string, mode: number, gid: number | undefined, directories: SocketDirectories): SocketBind {
  const dir = dirname(target);
  if (!directories.onlyWeRename(dir)) return privateBind(target, directories);
  const window = directories.bindWindowOf(dir);
  if (window !== undefined) return bindGivesNoMore(window, mode, gid) ? bindInPlace(target, window) : privateBind(target, directories);
  const measuring = privateBind(target, directories);
  return {
    ...measuring,
    bound() {
      let socket: Stats;
      try {
        socket = lstatSync(measuring.bindPath);
      } catch {
        return; // bind() failed: nothing to learn
      }
      if (socket.isSocket()) directories.noteBindWindow(dir, { mode: socket.mode & 0o7777, gid: socket.gid });
    },
  };
}
