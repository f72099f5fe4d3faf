// The `pg-logplexcollector` command: configuration → createCollector → our log on stderr,
// signals, and the periodic stats line. Everything that can be wrong with the configuration is
// found before anything listens, and is reported as one line with a non-zero exit.
import { Subscription, filter, interval, take } from '../rx';
import { createCollector, type Collector, type CollectorEvent } from '../collector';
import { DEFAULT_COLLECTOR_OPTIONS, type CollectorOptions } from '../options';
import { ConfigError, DEFAULT_STATS_INTERVAL_MS, EXIT, USAGE, parseConfig, type DaemonConfig } from './config';
import type { DaemonEvent } from './events';
import { createLogger } from './log';
import { EXIT_GRACE_MS, START_UP_QUIET_MS } from './options';
import { packageVersion } from '../packageVersion';
import { SpoolOpenError } from '../spool/errors';
import { ServeDbError } from '../servedb/errors';

const PROG = 'pg-logplexcollector';
const EXIT_CONFIG = EXIT.config;
const EXIT_FAILURE = EXIT.failure;

/** One line naming what to fix, then exit. Messages never hold tokens (each stage sees to it). */
function fatal(code: number, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${PROG}: ${message}\n`);
  process.exit(code);
}

/**
 * Ends the process at once when stopping left work behind. process.exit() would wait for
 * libuv's worker threads, and one stuck in a system call holds it forever (seen: open() of a
 * serves.new that is a FIFO, before store.ts opened it non-blocking; a read on a hung NFS mount
 * would do the same). SIGTERM's default action runs no exit handlers: the process ends as if
 * we had never caught the signal (status 143).
 */
function dieBySigterm(): never {
  process.removeAllListeners('SIGTERM');
  process.kill(process.pid, 'SIGTERM');
  // The signal is delivered before kill() returns to us; this is for the type checker.
  process.exit(EXIT_FAILURE);
}

/** Maps the operator's knobs onto the stages' options; unset ones keep the stages' defaults. */
export function collectorOptions(config: DaemonConfig, serveDbDir: string): CollectorOptions {
  const t = config.tunables;
  return {
    serveDbDir,
    logplexUrl: config.logplexUrl,
    serveDb: { pollIntervalMs: t.pollIntervalMs, watchEvents: t.watchEvents, dirSetting: 'SERVE_DB_DIR (--serve-db-dir)' },
    source: {
      maxMessageBytes: t.maxRecordBytes,
      maxPartialBytes: t.maxPartialBytes,
      handshakeTimeoutMs: t.handshakeTimeoutMs,
      readIntervalMs: t.readIntervalMs,
      maxConnectionsPerServe: t.maxConnectionsPerServe,
      maxUnidentifiedPerServe: t.maxUnidentifiedPerServe,
      reservedFileDescriptors: t.reservedFileDescriptors,
      socketMode: t.socketMode,
      socketGroup: t.socketGroup,
    },
    format: { linePrefix: t.linePrefix, hostname: t.hostname, maxMessageBytes: t.maxMessageBytes, maxRecordFrames: t.maxRecordFrames },
    sink: {
      flushIntervalMs: t.flushIntervalMs,
      concurrency: t.concurrency,
      maxBatchFrames: t.maxBatchFrames,
      maxBatchBytes: t.maxBatchBytes,
      bufferCapBytes: t.bufferCapBytes,
      gzip: t.gzip,
      postDeadlineMs: t.postDeadlineMs,
    },
    spool: t.spoolDir === undefined ? undefined : { dir: t.spoolDir, capBytes: t.spoolCapBytes, syncIntervalMs: t.spoolSyncMs },
    shutdownTimeoutMs: t.shutdownTimeoutMs,
  };
}

/**
 * What the command runs besides the daemon, handed in by its entry point (bin/) and loaded only
 * when asked for: the demo and its test doubles are no part of the daemon's modules.
 */
export interface MainExtras {
  readonly loadDemo?: () => Promise<(config: DaemonConfig) => Promise<void>>;
  // Called at the first backend's connection once the daemon has started: the entry point tunes
  // V8 for load from here on (v8Tuning.ts): JIT tiers on, young generation free to grow to its cap.
  readonly started?: () => void;
  // Called once the daemon has started and the collector has said nothing for START_UP_QUIET_MS,
  // if no backend has connected by then: the entry point gives back start-up's garbage.
  readonly startUpQuiet?: () => void;
}

export async function main(argv: readonly string[], extras: MainExtras = {}): Promise<void> {
  let config: DaemonConfig;
  try {
    config = parseConfig(argv, process.env);
  } catch (err) {
    fatal(err instanceof ConfigError ? EXIT_CONFIG : EXIT_FAILURE, err);
  }
  if (config.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (config.version) {
    process.stdout.write(`${PROG} ${packageVersion()}\n`);
    return;
  }
  if (config.checkServes !== undefined) {
    const { checkServesFile } = await import('./checkServes');
    const result = await checkServesFile(config.checkServes, config.logplexUrl);
    (result.ok ? process.stdout : process.stderr).write(`${result.text}\n`);
    process.exitCode = result.ok ? EXIT.ok : EXIT_FAILURE;
    return;
  }
  if (config.demo) {
    if (extras.loadDemo === undefined) fatal(EXIT_CONFIG, '--demo is run by the pg-logplexcollector command (bin/pg-logplexcollector.js)');
    const runDemo = await extras.loadDemo();
    extras.started?.();
    return runDemo(config);
  }
  if (config.serveDbDir === undefined) {
    fatal(EXIT_CONFIG, 'SERVE_DB_DIR is not set: point it (or --serve-db-dir) at the serve database directory');
  }
  const { collector, finished } = await startDaemon(config, config.serveDbDir);
  if (extras.started !== undefined) onFirstConnection(collector, extras.started);
  if (extras.startUpQuiet !== undefined) whenStartUpQuiet(collector, START_UP_QUIET_MS, extras.startUpQuiet);
  const { abandoned } = await finished;
  if (abandoned) dieBySigterm();
  // Exit now rather than when nothing is left to do: a stderr nobody reads would hold our last
  // lines, and the process with them, forever (process.exitCode was set by startDaemon).
  process.exit();
}

/**
 * Calls `settled` at the first backend's connection: until then the daemon idles as it started,
 * and neither the serve database's own file events right after start-up (serves.new renamed,
 * serves.loaded written) nor its periodic poll warm V8's compilers up for nothing (v8Tuning.ts).
 */
function onFirstConnection(collector: Collector, settled: () => void): void {
  collector.event$
    .pipe(
      filter((e) => e.kind === 'connect'),
      take(1),
    )
    .subscribe(() => settled());
}

/**
 * Calls `quiet` once the collector has said nothing for `quietMs`, unless a backend connects (or
 * the collector stops) first: a connection brings load, and the GC that `quiet` makes would then
 * be in its way. The timer holds no process open.
 */
export function whenStartUpQuiet(collector: Pick<Collector, 'event$'>, quietMs: number, quiet: () => void): void {
  // Made first, so that an event delivered while subscribing (a replay) finds it to close.
  const watching = new Subscription();
  const timer = setTimeout(() => {
    watching.unsubscribe();
    quiet();
  }, quietMs).unref();
  watching.add(
    collector.event$.subscribe((e) => {
      if (e.kind === 'connect' || e.kind === 'stopping') {
        clearTimeout(timer);
        watching.unsubscribe();
      } else timer.refresh();
    }),
  );
}

export interface RunningDaemon {
  readonly collector: Collector;
  // Resolves after the collector stopped and our log was flushed, or the exit grace ran out
  // waiting for stderr (process.exitCode set). `abandoned`: a look at serves.new was still under
  // way, perhaps stuck in a system call, which process.exit() would wait for.
  readonly finished: Promise<{ readonly abandoned: boolean }>;
}

/**
 * Starts the collector with our log on stderr, the stats line and the signal handlers; used by
 * main() and by the demo. Exits the process on a start-up error.
 */
export async function startDaemon(config: DaemonConfig, serveDbDir: string): Promise<RunningDaemon> {
  const log = createLogger<CollectorEvent | DaemonEvent>(config.logFormat, process.stderr, config.logLevel);
  const shutdownTimeoutMs = config.tunables.shutdownTimeoutMs ?? DEFAULT_COLLECTOR_OPTIONS.shutdownTimeoutMs;
  let collector: Collector;
  try {
    collector = createCollector(collectorOptions(config, serveDbDir));
  } catch (err) {
    fatal(EXIT_CONFIG, err); // an option a stage refuses (e.g. a line prefix it cannot render)
  }
  collector.event$.subscribe((event) => {
    if (event.kind === 'stopped') log.flushRepeats(); // the storm's last counts before the last line
    log(event);
  });
  if (config.metricsListen !== undefined) {
    // Loaded only when asked for: prom-client and its dependencies take ~12 MB.
    const { serveMetrics } = await import('../metrics');
    try {
      // Before start(): /readyz says 503 while the serve database loads. Closes itself once stopped.
      const metrics = await serveMetrics(collector, { listen: config.metricsListen, processMetrics: config.metricsProcess });
      log({ kind: 'metrics_listening', level: 'info', address: metrics.address });
    } catch (err) {
      fatal(EXIT_FAILURE, err); // e.g. the port is taken
    }
  }
  const statsEvery = config.tunables.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
  let latest = { recordsIn: 0, framesOut: 0, requestsOk: 0, requestsRetried: 0, requestsFailed: 0, dropped: 0, lost: 0, queuedBytes: 0, connections: 0, spoolBytes: 0, spoolBatches: 0, spoolOldestAgeMs: 0 };
  const spooling = config.tunables.spoolDir !== undefined;
  const statsSub = collector.stats$.subscribe((s) => (latest = s));
  const statsLine = statsEvery > 0
    ? interval(statsEvery).subscribe(() => {
        const { recordsIn, framesOut, requestsOk, requestsRetried, requestsFailed, dropped, lost, queuedBytes, connections } = latest;
        // The spool's gauges only with a spool: without one they would always read 0.
        const spool = spooling ? { spool_bytes: latest.spoolBytes, spool_batches: latest.spoolBatches, spool_oldest_age_ms: latest.spoolOldestAgeMs } : {};
        log({ kind: 'stats', level: 'info', connections, records_in: recordsIn, frames_out: framesOut, requests_ok: requestsOk,
          requests_retried: requestsRetried, requests_failed: requestsFailed, dropped, lost, queued_bytes: queuedBytes, ...spool });
      })
    : undefined;

  const onHup = (): void => {
    // Said before the look, so that a reload that finds nothing new is not silence.
    log({ kind: 'reload_requested', level: 'info', signal: 'SIGHUP' });
    collector.reload();
  };
  let signals = 0;
  const onStop = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      // A second Ctrl-C means "now": the operator has decided undelivered logs are acceptable.
      process.stderr.write(`${PROG}: ${signal} again, exiting without waiting for delivery\n`);
      process.exit(EXIT_FAILURE);
    }
    log({ kind: 'signal', level: 'info', signal });
    // Whatever stopping waits on (a serves.new read that never returns, a stderr nobody reads),
    // SIGTERM ends the process within the shutdown timeout and a grace: the init system should
    // never have to SIGKILL us.
    const limitMs = shutdownTimeoutMs + EXIT_GRACE_MS;
    setTimeout(() => {
      log({ kind: 'exit_forced', level: 'error', after_ms: limitMs });
      dieBySigterm(); // whatever is late may be a thread process.exit() would wait for
    }, limitMs).unref();
    void collector.stop();
  };
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);

  let deliveredAll = true;
  let abandoned = false;
  const finished = new Promise<{ abandoned: boolean }>((resolve) =>
    collector.event$.subscribe({
      next: (e) => {
        if (e.kind !== 'stopped') return;
        deliveredAll = e.delivered_all;
        abandoned = !e.serve_db_closed;
      },
      complete: () => {
        statsLine?.unsubscribe();
        statsSub.unsubscribe();
        process.off('SIGHUP', onHup);
        process.off('SIGTERM', onStop);
        process.off('SIGINT', onStop);
        process.exitCode = deliveredAll ? EXIT.ok : EXIT_FAILURE;
        void log.drained(EXIT_GRACE_MS / 2).then(() => resolve({ abandoned })); // within the SIGTERM limit above
      },
    }),
  );
  // Started only now that SIGTERM is handled: a stop while the serve database is still opening (a
  // large serves.loaded, a slow disk) closes it and exits cleanly, rather than by the signal's
  // default action with the lock and watch left behind.
  try {
    await collector.start();
  } catch (err) {
    // SpoolOpenError (a --spool-dir that cannot be used) and a SERVE_DB_DIR others could write
    // are configuration; the serve database's other errors (missing directory, corrupt
    // serves.loaded, ...) are not.
    const config = err instanceof SpoolOpenError || (err instanceof ServeDbError && err.code === 'SERVEDB_UNSAFE');
    fatal(config ? EXIT_CONFIG : EXIT_FAILURE, err);
  }
  return { collector, finished };
}
