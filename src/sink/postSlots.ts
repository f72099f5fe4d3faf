// The sink's post slots: how many first tries of batches from memory may be in flight at once,
// across every serve (maxPostsInFlight). Without them a sink whose 10,000 serves each closed a
// batch in the same turn started 10,000 requests at once: 10,000 posting pipelines alive together
// (the garbage collector's work grew with them), and 10,000 requests queued inside undici, in an
// order nobody chose.
//
// A batch that finds no free slot waits in its own outbox's queue, where its bytes are already on
// the serve's ledger; the outbox waits here, once, however many batches it holds. Slots are handed
// out round-robin: each grant is one batch, and an outbox that wants another goes to the back of
// the line, so a serve with a thousand batches queued delays a serve with one by a single post.
//
// Only a first try holds a slot: retries wait out their backoff in the serve's own `concurrency`
// slots, so a tenant whose logplex fails cannot sit on the slots every other tenant needs.
import { Fifo } from './fifo';

/** What waits for a slot (an outbox). */
export interface SlotTaker {
  /** A slot is its own now: true when it used it (started a post), false to pass it on. */
  slotGranted(): boolean;
}

export class PostSlots {
  #free: number;
  readonly #waiting = new Fifo<SlotTaker>(); // each taker at most once (the taker keeps that)
  #granting = false; // inside #grant(): a release made by a post that ended at once only counts
  #closed = false; // the sink is aborting: nothing more is granted

  constructor(slots: number) {
    this.#free = slots;
  }

  /**
   * A slot now (true) when one is free and nobody waits; otherwise `taker` joins the line (false)
   * and its slotGranted() is called when its turn comes.
   */
  take(taker: SlotTaker): boolean {
    if (this.#free > 0 && this.#waiting.length === 0) {
      this.#free -= 1;
      return true;
    }
    this.#waiting.push(taker);
    return false;
  }

  /** A slot taken or granted is free again. */
  release(): void {
    this.#free += 1;
    this.#grant();
  }

  /** Free slots (for tests). */
  get free(): number {
    return this.#free;
  }

  /** Takers in line (for tests). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Nothing more is granted (the sink aborts: what releases slots now must not start posts). */
  close(): void {
    this.#closed = true;
    this.#waiting.clear();
  }

  #grant(): void {
    if (this.#granting) return;
    this.#granting = true;
    try {
      while (this.#free > 0 && !this.#closed) {
        const taker = this.#waiting.shift();
        if (taker === undefined) break;
        this.#free -= 1;
        if (!taker.slotGranted()) this.#free += 1;
      }
    } finally {
      this.#granting = false;
    }
  }
}
