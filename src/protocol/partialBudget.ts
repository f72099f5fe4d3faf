// What every connection's unfinished messages may hold together. A header announcing a 1 MiB
// record makes its connection buffer until the last byte arrives; without a shared bound, 200
// connections each sending V, I and most of such a record took the daemon from 56 to 266 MB RSS.
// One PartialBudget is shared by all the FrameReaders of a source: a reader takes from it before
// it grows its buffer, and gives back when the message completes or the connection ends.

export class PartialBudget {
  private heldBytes = 0;

  /** `limit`: bytes all unfinished messages together may hold. */
  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`PartialBudget limit must be a byte count >= 0, got ${limit}`);
  }

  /** Bytes held right now, over every reader. */
  get held(): number {
    return this.heldBytes;
  }

  /** Takes `bytes`; false, and nothing taken, when that would pass the limit. */
  take(bytes: number): boolean {
    if (this.heldBytes + bytes > this.limit) return false;
    this.heldBytes += bytes;
    return true;
  }

  give(bytes: number): void {
    this.heldBytes -= bytes;
  }
}

/** For readers that need no bound (tests, the benchmark, the deframe operator). */
export const UNBOUNDED_PARTIALS = new PartialBudget(Number.MAX_SAFE_INTEGER);
