// What start() waits for: every socket of the first serve set listening, or failed with its
// reason (`listen_error`), so that an embedder who connects once start() resolved finds the
// socket there, or has been told why it is not. A serve a reload removed before it answered is
// no longer waited for (it never will answer). Work is O(1) per event and O(n) per reload, and
// only until the first set has answered: 10,000 serves cost no quadratic wait.
import type { ServeSet } from './servedb/serve';
import type { SourceEvent } from './source/events';

export class FirstServeSet {
  private waiting: Set<string> | undefined; // socket paths of the first set yet to answer; undefined until it is known
  private resolve: () => void = () => undefined;
  /** Resolves once every socket of the first set answered (or was removed), or on abandon(). */
  readonly answered = new Promise<void>((resolve) => (this.resolve = resolve));

  /** Every serve set, in order, before the source acts on it. */
  serveSet(set: ServeSet): void {
    if (this.waiting === undefined) {
      this.waiting = new Set(set.map((serve) => serve.socketPath));
    } else if (this.waiting.size > 0) {
      const wanted = new Set(set.map((serve) => serve.socketPath));
      for (const socketPath of this.waiting) if (!wanted.has(socketPath)) this.waiting.delete(socketPath);
    }
    this.check();
  }

  /** Every source event: `listening` and `listen_error` are a socket's answer. */
  sourceEvent(event: SourceEvent): void {
    if (this.waiting === undefined || this.waiting.size === 0) return;
    if (event.kind === 'listening' || event.kind === 'listen_error') {
      this.waiting.delete(event.socket);
      this.check();
    }
  }

  /** Stop waiting (the collector is stopping). */
  abandon(): void {
    this.resolve();
  }

  private check(): void {
    if (this.waiting?.size === 0) this.resolve();
  }
}
