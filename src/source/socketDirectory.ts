// What creating a socket needs to know about the directory it goes in, looked up once per
// synchronous run rather than once per socket. 10,000 new serves stat()ed their one directory
// five times each (our own-serve check twice, the claim, "does it exist", "who may rename in it"):
// 50,000 stats, ~140 ms of a 0.86 s apply on tmpfs. A slice of the start gate (sliceGate.ts) is
// one synchronous run: its sockets now share one stat of their directory.
//
// Forgotten at the end of the run (a microtask): nothing remembered here is older than the run
// that uses it, so a directory created, removed or changed between two runs is seen as it is.
// Within a run the same holds as for one stat followed by the work it decided: what another
// process does meanwhile is not seen. That is no weaker than before for the one fact that guards
// anything, `onlyWeRename`: only the directory's owner (we, or root) can change its mode.
//
// One SocketDirectories per socket source (so per collector): two collectors in one process
// share nothing, neither these facts nor which sockets each holds.
import { statSync, type Stats } from 'node:fs';

/** How bind() makes a socket in a directory: what the umask (or a default ACL) and the directory give it. */
export interface BindWindow {
  readonly mode: number; // permission bits (& 0o7777) of a socket just bound there, before any chmod
  readonly gid: number; // its group: the process's, or the directory's (setgid directory, grpid mount)
}

interface Known {
  stats?: Stats | null; // null: no such directory (or not ours to stat)
  onlyWeRename?: boolean;
  bindWindow?: BindWindow;
}

export class SocketDirectories {
  /**
   * The sockets this source listens on (or is binding), by where they really are: their
   * directory's device and inode, and their name (listenUnix.ts placeOf); so two paths to one
   * socket (a symlinked directory, a bind mount) are known to be one. Value: the path the owning
   * serve was given.
   */
  readonly ownSockets = new Map<string, string>();
  private known = new Map<string, Known>();
  private forgetting = false;

  /** The directory's stats (following symlinks), or undefined when it cannot be stat()ed. */
  directoryStats(dir: string): Stats | undefined {
    const facts = this.factsOf(dir);
    if (facts.stats === undefined) {
      try {
        facts.stats = statSync(dir);
      } catch {
        facts.stats = null;
      }
    }
    return facts.stats ?? undefined;
  }

  /**
   * Only we (or root) can rename or remove entries of `dir`: then the paths of our entries in it
   * cannot be swapped by anyone else. It is ours or root's (so nobody else can chmod it), and
   * others cannot write it, or it is sticky (others may add entries, not rename or remove ours).
   */
  onlyWeRename(dir: string): boolean {
    const facts = this.factsOf(dir);
    facts.onlyWeRename ??= this.onlyWeRenameNow(dir); // process.getuid() alone took ~4 µs a call
    return facts.onlyWeRename;
  }

  /** What bind() gave a socket in `dir` in this run, if one was measured (socketBind.ts). */
  bindWindowOf(dir: string): BindWindow | undefined {
    return this.factsOf(dir).bindWindow;
  }

  noteBindWindow(dir: string, window: BindWindow): void {
    this.factsOf(dir).bindWindow = window;
  }

  private factsOf(dir: string): Known {
    let facts = this.known.get(dir);
    if (facts === undefined) {
      facts = {};
      this.known.set(dir, facts);
      if (!this.forgetting) {
        this.forgetting = true;
        queueMicrotask(() => {
          this.forgetting = false;
          this.known = new Map();
        });
      }
    }
    return facts;
  }

  private onlyWeRenameNow(dir: string): boolean {
    const st = this.directoryStats(dir);
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if (st === undefined || uid === undefined || (st.uid !== uid && st.uid !== 0)) return false;
    const othersWrite = (st.mode & 0o022) !== 0;
    const sticky = (st.mode & 0o1000) !== 0;
    return !othersWrite || sticky;
  }
}
