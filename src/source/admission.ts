// Which accepted connections a source keeps, over every serve of one collector. Any local user
// who may connect to a socket (mode 0777 by default) can open connections that never identify;
// counted like real backends, 1,100 of them re-opened after each handshake timeout kept a
// tenant's PostgreSQL out of its own serve, and 400 idle ones on one serve took every descriptor
// so that another serve, holding none, was refused on every attempt. So:
//
// - per serve, connections that have not identified yet are capped on their own (a newer one
//   closes the oldest), and when the serve is at its cap an unidentified one is closed to make
//   room; an identified connection is never closed for a serve's own newcomer;
// - descriptors are shared fairly: when none is left, the serve holding the most connections
//   gives one up (its oldest unidentified, else its oldest) to a serve holding at least two
//   fewer, so a serve holding none always gets one; a serve already holding as many as any
//   other closes its own oldest unidentified, else the newcomer is refused.
//
// Among unidentified connections, those that have sent nothing go first. Read in ticks, a backend
// is unidentified until the tick after it connects, though its V, I and first records already
// wait in node's buffer; closing it as "the oldest" lost those records to a flood of silent
// connections arriving faster than the ticks.
//
// A connection's descriptor moves straight to the newcomer that evicted it (the budget's count
// of sockets never passes its limit, not even for a turn of the event loop).
import type { Socket } from 'node:net';
import type { Budget } from '../budget';

/** Why a connection was closed as soon as it was accepted, or closed to make room for a newer one. */
export type RefusalReason =
  | 'max_connections' // the serve held its cap: the newcomer closed, or its oldest unidentified connection
  | 'unidentified_limit' // the serve held its cap of unidentified connections: the oldest of them closed
  | 'open_file_limit'; // no descriptor left: the newcomer closed, or a connection of the serve holding the most

export interface AdmissionLimits {
  readonly maxConnectionsPerServe: number;
  readonly maxUnidentifiedPerServe: number;
}

/** Shared by the serves of one source: the descriptor budget and who holds how many connections. */
export class Admission {
  // Serves by how many connections they hold (never 0): the one holding the most is found in O(1)
  // whatever the number of serves, as counts only ever move by one.
  private readonly byHeld = new Map<number, Set<ServeAdmission>>();
  private mostHeld = 0;

  constructor(
    readonly descriptors: Budget, // listeners' and connections' descriptors
    readonly limits: AdmissionLimits,
  ) {}

  /** One serve's admission; `onClosed` hears of every connection it closed, and why. */
  serve(onClosed: (reason: RefusalReason) => void): ServeAdmission {
    return new ServeAdmission(this, onClosed);
  }

  /** @internal `serve` now holds `held`, one more or one fewer than `was`. */
  moved(serve: ServeAdmission, was: number, held: number): void {
    if (was > 0) {
      const bucket = this.byHeld.get(was);
      bucket?.delete(serve);
      if (bucket?.size === 0) this.byHeld.delete(was);
    }
    if (held > 0) {
      let bucket = this.byHeld.get(held);
      if (bucket === undefined) this.byHeld.set(held, (bucket = new Set()));
      bucket.add(serve);
    }
    if (held > this.mostHeld) this.mostHeld = held;
    while (this.mostHeld > 0 && !this.byHeld.has(this.mostHeld)) this.mostHeld--;
  }

  /** @internal A serve holding the most connections, if any holds one. */
  holdingMost(): ServeAdmission | undefined {
    const bucket = this.byHeld.get(this.mostHeld);
    return bucket === undefined ? undefined : first(bucket);
  }
}

/** The connections one serve holds, oldest first. */
export class ServeAdmission {
  private readonly unidentified = new Set<Socket>();
  private readonly identifiedOnes = new Set<Socket>();

  constructor(
    private readonly shared: Admission,
    private readonly onClosed: (reason: RefusalReason) => void,
  ) {}

  /** Connections held now, identified or not. */
  get held(): number {
    return this.unidentified.size + this.identifiedOnes.size;
  }

  get heldUnidentified(): number {
    return this.unidentified.size;
  }

  /**
   * Keeps `socket` (true) or closes it (false), closing another connection when that is what
   * makes room; every connection closed is said through its serve's `onClosed`. A kept socket
   * gives its descriptor back when it closes.
   */
  admit(socket: Socket): boolean {
    const { limits, descriptors } = this.shared;
    let room = false;
    if (this.held >= limits.maxConnectionsPerServe) {
      room = this.evictOldest(this.unidentified, 'max_connections');
      if (!room) return this.refuse(socket, 'max_connections');
    } else if (this.unidentified.size >= limits.maxUnidentifiedPerServe) {
      room = this.evictOldest(this.unidentified, 'unidentified_limit');
    }
    if (!room && !descriptors.take(1)) {
      const most = this.shared.holdingMost();
      if (most !== undefined && most !== this && most.held > this.held + 1) {
        room = most.evictOldest(most.unidentified, 'open_file_limit') || most.evictOldest(most.identifiedOnes, 'open_file_limit');
      } else {
        room = this.evictOldest(this.unidentified, 'open_file_limit');
      }
      if (!room) return this.refuse(socket, 'open_file_limit');
    }
    this.unidentified.add(socket);
    this.counted(this.held - 1);
    socket.once('close', () => this.release(socket));
    return true;
  }

  /** `socket` passed the identity check: from now on only a shortage of descriptors closes it. */
  identified(socket: Socket): void {
    if (this.unidentified.delete(socket)) this.identifiedOnes.add(socket);
  }

  private refuse(socket: Socket, reason: RefusalReason): false {
    socket.destroy();
    this.onClosed(reason);
    return false;
  }

  /**
   * Closes the oldest of `among` that has sent nothing, else its oldest, its descriptor kept for
   * the caller's newcomer; false if none.
   */
  private evictOldest(among: Set<Socket>, reason: RefusalReason): boolean {
    const victim = firstSilent(among) ?? first(among);
    if (victim === undefined) return false;
    among.delete(victim);
    this.counted(this.held + 1);
    victim.destroy(); // its 'close' comes later and finds it gone: nothing given back twice
    this.onClosed(reason);
    return true;
  }

  private release(socket: Socket): void {
    if (!this.unidentified.delete(socket) && !this.identifiedOnes.delete(socket)) return; // evicted
    this.counted(this.held + 1);
    this.shared.descriptors.give(1);
  }

  private counted(was: number): void {
    this.shared.moved(this, was, this.held);
  }
}

/** The oldest socket that has sent no byte: nothing read from it, and nothing waiting in node. */
function firstSilent(set: ReadonlySet<Socket>): Socket | undefined {
  for (const socket of set) if (socket.bytesRead === 0 && socket.readableLength === 0) return socket;
  return undefined;
}

function first<T>(set: ReadonlySet<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}
