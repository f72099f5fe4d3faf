// Full-size request bodies, reused. Under load a serve fills a body of maxBatchBytes every few
// milliseconds, and each one lives for a round trip or more: long enough for V8 to promote its
// Buffer to the old generation, where the backing store waits for a full mark-compact to be
// freed. The bench measured 40 MB of such bodies waiting between mark-compacts at 100k
// records/s. Bodies that went out and were answered with success are taken back instead, so
// steady load cycles through a handful of buffers.
//
// Only big bodies come from the pool (half its capacity or more: a busy serve's; a quiet serve's
// small ones are the heap's), always as whole full-size buffers, and only those
// whose POST succeeded come back: the server has read the whole body before it answered, so
// neither undici nor the socket still holds it. A failed, given-up or aborted post leaves its body
// to the garbage collector. A body that closes less than half full is copied out at its size and
// its buffer given back at once (batch.ts), so what waits in a queue is what the ledger counts.

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

  get capacity(): number {
    return this.#capacity;
  }

  /**
   * At least `size` bytes of uninitialised memory: a whole pooled buffer (capacity bytes) when
   * `size` is half the capacity or more, up to it; else memory of its own, of exactly `size`.
   */
  take(size: number): Buffer {
    if (size > this.#capacity || size < this.#capacity / 2) return Buffer.allocUnsafeSlow(size);
    let buffer = this.#free.pop();
    if (buffer === undefined) {
      buffer = new ArrayBuffer(this.#capacity);
      this.#ours.add(buffer);
    }
    return Buffer.from(buffer);
  }

  /** Hands back the buffer under `body` once nothing reads it any more; anything not pooled is ignored. */
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
