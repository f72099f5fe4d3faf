// Every tunable of the serve database, with its default, in one place.
import { asyncScheduler, type SchedulerLike } from '../rx';

import { OptionsError } from '../errors';
export interface ServeDbOptions {
  /** SERVE_DB_DIR: the directory holding serves.new, serves.loaded, serves.rej and last_error. */
  readonly dir: string;
  /**
   * LOGPLEX_URL: where serves with `t` post. Undefined when not configured, and then a serve
   * with `t` is refused. Credentials in it are never used for `t` serves (they authenticate
   * as `token:<t>`) and never printed.
   */
  readonly logplexUrl: URL | undefined;
  /**
   * How often to look at serves.new even without a file-system event: events get lost on
   * network file systems and with some editors. The reference collector looked every 10 s.
   */
  readonly pollIntervalMs: number;
  /** Watch the directory for serves.new (chokidar). Off only to prove the poll alone works. */
  readonly watchEvents: boolean;
  /**
   * After a file event, wait this long for more before looking: an editor that writes in place
   * (instead of by rename, as it should) fires several events, and one look at the end is
   * better than rejecting its first half-written version. Polls and rescan() do not wait.
   */
  readonly settleMs: number;
  /**
   * How long start-up waits for file events to be ready (chokidar's first scan). Past it, or on
   * a watcher error, start-up goes on with the poll alone and says so: a watcher that never gets
   * ready (inotify limits, odd file systems) must not keep the collector from starting.
   */
  readonly watchReadyTimeoutMs: number;
  /** Keeps the poll, settle and ready-timeout timers: virtual time in tests. */
  readonly scheduler: SchedulerLike;
  /**
   * How errors name the setting that chose `dir`, so that they say what to change: the daemon
   * says SERVE_DB_DIR, the library `serveDbDir` (createCollector), openServeDb's caller `dir`.
   */
  readonly dirSetting: string;
}

export const DEFAULT_SERVE_DB_OPTIONS = {
  pollIntervalMs: 10_000,
  watchEvents: true,
  settleMs: 100,
  watchReadyTimeoutMs: 10_000,
  dirSetting: 'the dir option',
} as const satisfies Partial<ServeDbOptions>;

/** What a caller must say (dir, logplexUrl); everything else has a default. */
export type ServeDbOptionsInput = Pick<ServeDbOptions, 'dir' | 'logplexUrl'> &
  Partial<Omit<ServeDbOptions, 'dir' | 'logplexUrl'>>;

/** Defaults filled in; a nonsensical value is a programming error, so it throws. */
export function resolveServeDbOptions(options: ServeDbOptionsInput): ServeDbOptions {
  const resolved: ServeDbOptions = {
    dir: options.dir,
    logplexUrl: options.logplexUrl,
    pollIntervalMs: options.pollIntervalMs ?? DEFAULT_SERVE_DB_OPTIONS.pollIntervalMs,
    watchEvents: options.watchEvents ?? DEFAULT_SERVE_DB_OPTIONS.watchEvents,
    settleMs: options.settleMs ?? DEFAULT_SERVE_DB_OPTIONS.settleMs,
    watchReadyTimeoutMs: options.watchReadyTimeoutMs ?? DEFAULT_SERVE_DB_OPTIONS.watchReadyTimeoutMs,
    scheduler: options.scheduler ?? asyncScheduler,
    dirSetting: options.dirSetting ?? DEFAULT_SERVE_DB_OPTIONS.dirSetting,
  };
  if (!Number.isFinite(resolved.watchReadyTimeoutMs) || resolved.watchReadyTimeoutMs <= 0) {
    throw new OptionsError(`watchReadyTimeoutMs must be positive, got ${resolved.watchReadyTimeoutMs}`);
  }
  if (!Number.isFinite(resolved.pollIntervalMs) || resolved.pollIntervalMs < 10) {
    throw new OptionsError(`pollIntervalMs must be at least 10, got ${resolved.pollIntervalMs}`);
  }
  if (!Number.isFinite(resolved.settleMs) || resolved.settleMs < 0) {
    throw new OptionsError(`settleMs must be 0 or more, got ${resolved.settleMs}`);
  }
  if (resolved.dir === '') throw new OptionsError('dir must name the serve database directory');
  return resolved;
}
