// Options of the whole collector: one section per stage, each owning its defaults in its own
// options.ts; what belongs to no stage (shutdown) is defaulted here.
import type { FormatOptions } from './format/options';
import type { SchedulerLike } from './rx';
import type { ServeDbOptions } from './servedb/options';
import type { SinkOptionsInput } from './sink/options';
import type { SourceOptions } from './source/options';
import type { SpoolOptionsInput } from './spool/options';

export interface CollectorOptions {
  /** SERVE_DB_DIR: the serve database directory (must exist). */
  readonly serveDbDir: string;
  /** LOGPLEX_URL: where serves with a `t` token post; serves with `url` do not need it. */
  readonly logplexUrl?: URL | string | undefined;
  /** Serve database polling and watching. */
  readonly serveDb?: Partial<Omit<ServeDbOptions, 'dir' | 'logplexUrl'>>;
  /** Socket listeners, record size cap, drain on reload and shutdown. */
  readonly source?: Partial<SourceOptions>;
  /** Line prefix, hostname, facility, frame cap. */
  readonly format?: Partial<FormatOptions>;
  /** Batching, concurrency, buffer cap, timeouts, retries, gzip. */
  readonly sink?: SinkOptionsInput;
  /**
   * A durable spool for what logplex cannot take now (README: The spool); off when absent. Opened
   * by start(): what an earlier run left in it is delivered.
   */
  readonly spool?: SpoolOptionsInput;
  /** Longest stop() spends delivering what was already read before giving up on it. */
  readonly shutdownTimeoutMs?: number;
  /**
   * Where every timer of every stage runs, and what "now" is: batches, retries, read ticks,
   * handshakes, drains, listen retries, refusal reports, the serve database's looks, the spool's
   * sync and the stop's deadline (a VirtualTimeScheduler runs them all on virtual time). When
   * absent, rxjs's asyncScheduler; timers that must not keep the process alive (the spool's sync,
   * refusal reports) then run unref'd. `serveDb.scheduler`, when set, wins for the serve database.
   */
  readonly scheduler?: SchedulerLike;
}

export const DEFAULT_COLLECTOR_OPTIONS = {
  // Long enough for a healthy logplex to take a full buffer of batches, short enough for an
  // init system's stop timeout (systemd: 90 s) to never have to SIGKILL us.
  shutdownTimeoutMs: 10_000,
} as const;
