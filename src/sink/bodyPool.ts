// Request bodies, reused. Under load a serve forms a body of up to maxBatchBytes every few
// milliseconds, and each one lives for a round trip or more: long enough for V8 to promote its
// Buffer to the old generation, where the backing store waits for a full mark-compact to be
// freed. The bench measured 40 MB of such bodies waiting between mark-compacts at 100k
// records/s. Bodies that went out and were answered with success are taken back instead, so
// steady load cycles through a handful of buffers.
//
// At most twice the ledger's bytes are held for pooled bodies (each at least half full), and
// only those bodies whose POST succeeded come back: the server has read the whole body before it
// answered, so neither undici nor the socket still holds it. A failed, given-up or aborted post
// leaves its body to the garbage collector, as every body was before.

export class BodyPool {
  readonly #capacity: number;
  readonly #maxFree: number;
  readonly #free: ArrayBuffer[] = [];
  readonly #ours = new WeakSet<ArrayBuffer>(); // buffers this pool made: nothing else is taken back

  /** `capacity`: bytes of each pooled buffer; `maxFree`: buffers kept while unused. */
  constructor(capacity: number, maxFree: number) {
    this.#capacity = capacity;
    this.#maxFree = maxFree;
  }

  /**
   * `size` bytes of uninitialised memory. Only big bodies (half the capacity or more) come from the
   * pool: they are the load case, and a small body in a pooled buffer would pin a whole megabyte,
   * which the ledger does not see (a quiet serve queues thousands of small bodies in an outage).
   */
  take(size: number): Buffer {
    if (size > this.#capacity || size < this.#capacity / 2) return Buffer.allocUnsafeSlow(size);
    let buffer = this.#free.pop();
    if (buffer === undefined) {
      buffer = new ArrayBuffer(this.#capacity);
      this.#ours.add(buffer);
    }
    return Buffer.from(buffer, 0, size);
  }

  /** Hands `body` back once nothing reads it any more; anything but a pooled body is ignored. */
  give(body: Buffer): void {
    const buffer = body.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.#ours.has(buffer) || this.#free.length >= this.#maxFree) return;
    if (this.#free.includes(buffer)) return; // given twice: keep one
    this.#free.push(buffer);
  }

  /** Unused buffers held (for tests and stats). */
  get freeCount(): number {
    return this.#free.length;
  }
}
