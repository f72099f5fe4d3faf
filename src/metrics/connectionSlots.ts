// The metrics port's connections, bounded without ever turning the newcomer away: node's own
// `server.maxConnections` closes new connections once full, so a few idle or trickling sockets
// would keep every health probe out, and a liveness probe would then restart the daemon. Here a
// connection beyond the bound closes the oldest connection that is not being answered (idle, or
// still sending its request), else the oldest one being answered: whoever holds sockets open
// loses them to whoever comes next, and a probe, which asks and is answered at once, gets in.
import type { Socket } from 'node:net';

export class ConnectionSlots {
  // Insertion order is age: the first entry is the oldest connection. true while being answered.
  readonly #answering = new Map<Socket, boolean>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.#answering.size;
  }

  /** A connection was accepted; closes another one when that makes one too many. */
  admit(socket: Socket): void {
    this.#answering.set(socket, false);
    socket.once('close', () => this.#answering.delete(socket));
    if (this.#answering.size > this.max) this.#closeOne(socket);
  }

  /** Whether a request on `socket` is being answered (a response under way is closed last). */
  answering(socket: Socket, answering: boolean): void {
    if (this.#answering.has(socket)) this.#answering.set(socket, answering);
  }

  #closeOne(newcomer: Socket): void {
    let victim: Socket | undefined;
    for (const [socket, answering] of this.#answering) {
      if (socket === newcomer) continue;
      if (!answering) {
        victim = socket;
        break;
      }
      victim ??= socket; // the oldest being answered, if every one is
    }
    if (victim === undefined) return;
    this.#answering.delete(victim);
    victim.destroy();
  }
}
