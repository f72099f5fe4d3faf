// One timer for every connection of a source: each tick, every connection reads what waits for it.
//
// Read as soon as it is readable, a socket costs a wake-up and a read for nearly every send() of
// its backend, and the reader then competes with PostgreSQL for the cores: against real
// PostgreSQL 15 + pg_logfebe (pgbench, log_statement = all, 2 cores), a reader that only
// discarded cost 0.83× the tps of csvlog alone reading eagerly and 0.92× reading once every
// 10 ms. Read in ticks, a busy backend's records arrive many to a read, and between ticks the
// collector sleeps. The timer runs only while there are connections to read.
import type { SchedulerAction, SchedulerLike, Subscription } from '../rx';

/** What a tick reads: a connection. */
export interface TickReader {
  /** Reads what has arrived since the last tick. `now` is the scheduler's time of the tick. */
  readTick(now: number): void;
}

export class ReadTicks {
  readonly #readers = new Set<TickReader>();
  readonly #intervalMs: number;
  readonly #scheduler: SchedulerLike;
  #timer: Subscription | undefined; // set while there are readers

  constructor(intervalMs: number, scheduler: SchedulerLike) {
    this.#intervalMs = intervalMs;
    this.#scheduler = scheduler;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Reads `reader` from the next tick on, until `delete`. */
  add(reader: TickReader): void {
    this.#readers.add(reader);
    if (this.#timer !== undefined) return;
    const readers = this.#readers;
    const scheduler = this.#scheduler;
    const intervalMs = this.#intervalMs;
    // Rescheduled with the same delay, an async action keeps its one setInterval. The last
    // reader deleted during the tick has stopped it already (and rescheduling a stopped action
    // does nothing), so it is always rescheduled here.
    this.#timer = scheduler.schedule(function (this: SchedulerAction<undefined>) {
      const now = scheduler.now();
      // A reader deleted during the tick (its connection ended) is skipped; one added is read.
      for (const each of readers) each.readTick(now);
      this.schedule(undefined, intervalMs);
    }, intervalMs);
  }

  delete(reader: TickReader): void {
    this.#readers.delete(reader);
    if (this.#readers.size === 0) this.#stop();
  }

  /** Connections read by the ticks now. */
  get size(): number {
    return this.#readers.size;
  }

  #stop(): void {
    this.#timer?.unsubscribe();
    this.#timer = undefined;
  }
}
