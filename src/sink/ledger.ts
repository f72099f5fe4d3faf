// One serve's byte ledger and its drop policy (log-shuttle's batcher.go), kept by the serve's
// outbox (outbox.ts). The buffer is not a data structure of its own: frames live in the open
// batch, in the outbox's queue of batches waiting for a post slot, and in posts in flight or
// between retries. This ledger counts all of those bytes, so admission here is what bounds every
// one of them.
//
// Policy: input is never paused. A record whose frames would push the ledger past the cap is
// dropped whole (we keep older logs and lose newer ones, as log-shuttle does), its frames are
// counted with the time of the first drop, and the next batch formed opens with an L10 frame
// saying so. Batches given up after retries are counted as lost and announced the same way.

/** Messages not delivered since `since`, waiting to be announced in-band. */
export interface Unannounced {
  readonly count: number;
  readonly since: Date;
}

export class Ledger {
  #queuedBytes = 0;
  #dropped: PendingCount | undefined; // mutated in place while a run of drops lasts
  #lost: PendingCount | undefined;

  constructor(readonly capBytes: number) {}

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Reserve room for a record's frames; false means drop them (the caller then calls drop()). */
  admit(bytes: number): boolean {
    if (this.#queuedBytes + bytes > this.capBytes) return false;
    this.#queuedBytes += bytes;
    return true;
  }

  /** Bytes an L10 frame adds to a batch: tiny, taken even over the cap so the news is never dropped. */
  reserve(bytes: number): void {
    this.#queuedBytes += bytes;
  }

  /** Bytes of a batch that was delivered or given up. */
  release(bytes: number): void {
    this.#queuedBytes -= bytes;
  }

  /**
   * Count dropped frames at `atMs` (ms since the epoch); true when this starts a new run of drops
   * (worth one log line; `dropSince` then holds its time). Called per dropped record when the
   * collector is already short of CPU, so a drop within a run allocates nothing.
   */
  drop(frames: number, atMs: number): boolean {
    const current = this.#dropped;
    if (current === undefined) {
      this.#dropped = { count: frames, since: new Date(atMs) };
      return true;
    }
    current.count += frames; // ours alone: takeUnannounced() gives it away and forgets it
    if (atMs < current.since.getTime()) current.since = new Date(atMs); // the clock went back
    return false;
  }

  /** When the pending run of drops started; undefined when none is pending. */
  get dropSince(): Date | undefined {
    return this.#dropped?.since;
  }

  lose(frames: number, at: Date): void {
    this.#lost = merge(this.#lost, { count: frames, since: at });
  }

  /** Hand the pending counts to the batch being formed, which will announce them. */
  takeUnannounced(): Announced {
    const taken = { dropped: this.#dropped, lost: this.#lost };
    this.#dropped = undefined;
    this.#lost = undefined;
    return taken;
  }

  /** The batch that carried the announcement was itself lost: announce those counts again later. */
  restore(taken: Announced): void {
    if (taken.dropped !== undefined) this.#dropped = merge(this.#dropped, taken.dropped);
    if (taken.lost !== undefined) this.#lost = merge(this.#lost, taken.lost);
  }

  hasUnannounced(): boolean {
    return this.#dropped !== undefined || this.#lost !== undefined;
  }
}

/** The counts one batch announces (and gives back if it is lost). */
export interface Announced {
  readonly dropped: Unannounced | undefined;
  readonly lost: Unannounced | undefined;
}

/** An Unannounced while the ledger owns it. */
interface PendingCount {
  count: number;
  since: Date;
}

/** Always a fresh object: the ledger may mutate what it holds, never what it was handed or gave away. */
function merge(a: Unannounced | undefined, b: Unannounced): PendingCount {
  if (a === undefined) return { count: b.count, since: b.since };
  return { count: a.count + b.count, since: a.since <= b.since ? a.since : b.since };
}
