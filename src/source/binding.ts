// What each way of binding a socket (bindInPlace.ts, privateBind.ts, chosen by socketBind.ts)
// gives listenUnix: its own module, so that the ways and the chooser need not import each other.
import type { Stats } from 'node:fs';

/** Where a socket is bound, and how it is then given its mode and group; errors carry an errno `code`. */
export interface SocketBind {
  /** The path to bind(). */
  readonly bindPath: string;
  /** Called once server.listen() returned: bind() has happened, or failed (its error comes later). */
  bound(): void;
  /**
   * Gives the bound socket `mode` (and `gid` when set) and makes it appear at `target`, if it is
   * not there yet. Returns the file's stats (mode, gid, inode: the file at `target`). Throws with
   * code `EEXIST` when something other than our socket is (or appeared) at `target`.
   */
  place(target: string, mode: number, gid: number | undefined): Stats;
  /** Removes what the bind left besides the socket at `target`; after the server closed. Idempotent. */
  dispose(): void;
  /** Whether a descriptor stays open until dispose() (privateBind.ts). */
  readonly holdsDirectory: boolean;
}
