// The sink's counters (log-shuttle's counter.go): totals and per serve, read as immutable
// snapshots. Serves appear by socket path and name only: no URL, user or token is ever copied in.

export interface SinkCounters {
  readonly recordsIn: number; // records that reached the sink
  readonly framesIn: number; // frames formatted from them, before any drop
  readonly framesOut: number; // frames in bodies logplex accepted (L10 notices included)
  readonly bytesOut: number; // wire bytes of accepted bodies (after gzip when enabled)
  readonly requestsOk: number; // POSTs answered 2xx
  readonly requestsRetried: number; // failed POSTs that were tried again
  readonly requestsFailed: number; // batches given up (permanent error, attempts or age exhausted)
  readonly dropped: number; // frames refused at the buffer cap
  readonly lost: number; // frames in batches given up
  readonly refused: number; // of `lost`, frames the tenant's logplex refused (401/403/404/422: the tenant's to fix)
  readonly queuedBytes: number; // frame bytes held right now: open batch, waiting, in flight
  readonly queuedFrames: number; // log lines (frames, L10 notices not counted) held right now, as queuedBytes
}

/** The on-disk spool (src/spool), when there is one: gauges, not counters. All 0 without a spool. */
export interface SpoolGauges {
  readonly spoolBytes: number; // segment files on disk
  readonly spoolBatches: number; // batches waiting in it
  readonly spoolOldestAgeMs: number; // age of the oldest of them (for the totals, the oldest of all); 0 when none
}

export interface ServeStats extends SinkCounters, SpoolGauges {
  readonly socketPath: string;
  readonly name: string | undefined;
}

export interface SinkStats extends SinkCounters, SpoolGauges {
  readonly serves: readonly ServeStats[];
  readonly spoolBatchesSpooled?: number; // batches written to the spool since start; absent without one
  readonly spoolBatchesDrained?: number; // batches taken back off it (posted, or given up) since start
}

/** How the recorder reads the spool's gauges (the sink passes the store's). */
export interface SpoolReader {
  readonly serve: (socketPath: string) => { bytes: number; batches: number; oldestMs: number | undefined } | undefined;
  readonly total: () => { bytes: number; batches: number; oldestMs: number | undefined; spooled?: number; drained?: number };
  readonly now: () => number;
}

const NO_SPOOL: SpoolGauges = { spoolBytes: 0, spoolBatches: 0, spoolOldestAgeMs: 0 };

function gauges(counts: { bytes: number; batches: number; oldestMs: number | undefined } | undefined, now: number): SpoolGauges {
  if (counts === undefined) return NO_SPOOL;
  return { spoolBytes: counts.bytes, spoolBatches: counts.batches, spoolOldestAgeMs: counts.oldestMs === undefined ? 0 : Math.max(0, now - counts.oldestMs) };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type MutableCounters = Mutable<SinkCounters>;

const COUNTER_KEYS: readonly (keyof SinkCounters)[] = [
  'recordsIn',
  'framesIn',
  'framesOut',
  'bytesOut',
  'requestsOk',
  'requestsRetried',
  'requestsFailed',
  'dropped',
  'lost',
  'refused',
  'queuedBytes',
  'queuedFrames',
];

export function zeroCounters(): MutableCounters {
  return {
    recordsIn: 0,
    framesIn: 0,
    framesOut: 0,
    bytesOut: 0,
    requestsOk: 0,
    requestsRetried: 0,
    requestsFailed: 0,
    dropped: 0,
    lost: 0,
    refused: 0,
    queuedBytes: 0,
    queuedFrames: 0,
  };
}

/**
 * Owns the per-serve counters; the serves' outboxes mutate them in place, readers get snapshots.
 * A serve's entry lives while an outbox of it does (counted in and out: a retired outbox may
 * still be finishing posts when the serve's next record opens a new one); when the last one
 * ends, its counts move to `retired`, so the totals never go down and the map holds only live
 * serves.
 */
export class StatsRecorder {
  readonly #serves = new Map<string, { name: string | undefined; counters: MutableCounters; outboxes: number }>();
  readonly #retired = zeroCounters();
  #spool: SpoolReader | undefined;

  /** Snapshots carry the spool's gauges from now on. */
  readSpool(reader: SpoolReader): void {
    this.#spool = reader;
  }

  /** The counters of one serve, created on first sight; the name follows the serve's latest record. */
  forServe(socketPath: string, name: string | undefined): MutableCounters {
    const entry = this.#entry(socketPath);
    entry.name = name;
    return entry.counters;
  }

  /** The counters of one serve, to read (created on first sight), its name left as it is. */
  countersOf(socketPath: string): MutableCounters {
    return this.#entry(socketPath).counters;
  }

  #entry(socketPath: string): { name: string | undefined; counters: MutableCounters; outboxes: number } {
    let entry = this.#serves.get(socketPath);
    if (entry === undefined) {
      entry = { name: undefined, counters: zeroCounters(), outboxes: 0 };
      this.#serves.set(socketPath, entry);
    }
    return entry;
  }

  /** An outbox of this serve starts. */
  opened(socketPath: string): void {
    this.#entry(socketPath).outboxes += 1;
  }

  /** An outbox of this serve has ended; with the last one, the serve's counts join the retired totals. */
  closed(socketPath: string): void {
    const entry = this.#serves.get(socketPath);
    if (entry === undefined) return;
    entry.outboxes -= 1;
    if (entry.outboxes > 0) return;
    for (const key of COUNTER_KEYS) this.#retired[key] += entry.counters[key];
    this.#serves.delete(socketPath);
  }

  snapshot(): SinkStats {
    const totals = { ...this.#retired };
    const serves: ServeStats[] = [];
    const spool = this.#spool;
    const now = spool?.now() ?? 0;
    for (const [socketPath, { name, counters }] of this.#serves) {
      for (const key of COUNTER_KEYS) totals[key] += counters[key];
      serves.push({ socketPath, name, ...counters, ...gauges(spool?.serve(socketPath), now) });
    }
    const total = spool?.total();
    const moved = total?.spooled === undefined ? {} : { spoolBatchesSpooled: total.spooled, spoolBatchesDrained: total.drained ?? 0 };
    return { ...totals, ...gauges(total, now), ...moved, serves };
  }
}
