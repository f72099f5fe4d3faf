// One timer for every deadline of one delay: the flush of each lane's open body (flushIntervalMs
// after its first record) and each lane's idle check (laneIdleMs). A timer per lane cost a timer
// object, a scheduled action and a setInterval for each of 10,000 quiet serves; deadlines that
// all have the same delay come due in the order they were set, so a queue and one timer for its
// head serve them all, each at its own time.
//
// A deadline is never taken back: its owner hands a ticket with it and ignores a due ticket that
// is no longer its current one (a body that closed on size before its timer). Stale entries cost
// one queue slot until their time, bounded by what was set within one delay.
import type { SchedulerAction, SchedulerLike, Subscription } from '../rx';
import { Fifo } from './fifo';

/** What a deadline calls when due. */
export interface Expiring {
  /** The deadline set with `ticket` is due now. */
  expire(ticket: number): void;
}

interface Entry {
  readonly at: number;
  readonly owner: Expiring;
  readonly ticket: number;
}

export class Deadlines {
  readonly #delayMs: number;
  readonly #scheduler: SchedulerLike;
  readonly #queue = new Fifo<Entry>(); // in the order they come due
  #timer: Subscription | undefined; // set while the queue holds entries

  constructor(delayMs: number, scheduler: SchedulerLike) {
    this.#delayMs = delayMs;
    this.#scheduler = scheduler;
  }

  /** Calls `owner.expire(ticket)` delayMs from now. */
  add(owner: Expiring, ticket: number): void {
    this.#queue.push({ at: this.#scheduler.now() + this.#delayMs, owner, ticket });
    if (this.#timer !== undefined) return;
    const fire = (action: SchedulerAction<undefined>): void => {
      const now = this.#scheduler.now();
      // An owner may set a new deadline from expire(): it lands behind, at now + delayMs.
      for (let entry = this.#queue.peek(); entry !== undefined && entry.at <= now; entry = this.#queue.peek()) {
        this.#queue.shift();
        entry.owner.expire(entry.ticket);
      }
      const next = this.#queue.peek();
      if (next === undefined || this.#timer === undefined) {
        this.#timer = undefined;
        action.unsubscribe();
        return;
      }
      action.schedule(undefined, next.at - now);
    };
    this.#timer = this.#scheduler.schedule(function (this: SchedulerAction<undefined>) {
      fire(this);
    }, this.#delayMs);
  }

  /** Forgets every deadline and stops the timer (the sink ends). */
  clear(): void {
    this.#timer?.unsubscribe();
    this.#timer = undefined;
    this.#queue.clear();
  }

  /** Deadlines not yet due (stale ones included). */
  get size(): number {
    return this.#queue.length;
  }
}
