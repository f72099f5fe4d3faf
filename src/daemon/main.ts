// The `pg-logplexcollector` command: configuration → createCollector → our log on stderr,
// signals, and the periodic stats line. Everything that can be wrong with the configuration is
// found before anything listens, and is reported as one line with a non-zero exit.
import { interval } from 'rxjs';
import { createCollector, type Collector } from '../collector';
import type { CollectorOptions } from '../options';
import { ConfigError, USAGE, parseConfig, type DaemonConfig } from './config';
import { createLogger } from './log';
import { packageVersion } from './version';

const PROG = 'pg-logplexcollector';
const DEFAULT_STATS_INTERVAL_MS = 60_000; // one line a minute: enough to graph, not enough to drown in

/** Exit codes: 0 clean stop, 1 could not start or stopped with undelivered logs, 2 bad configuration. */
const EXIT_CONFIG = 2;
const EXIT_FAILURE = 1;

/** One line naming what to fix, then exit. Messages never hold tokens (each stage sees to it). */
function fatal(code: number, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${PROG}: ${message}\n`);
  process.exit(code);
}

/** Maps the operator's knobs onto the stages' options; unset ones keep the stages' defaults. */
export function collectorOptions(config: DaemonConfig, serveDbDir: string): CollectorOptions {
  const t = config.tunables;
  return {
    serveDbDir,
    logplexUrl: config.logplexUrl,
    serveDb: { pollIntervalMs: t.pollIntervalMs, watchEvents: t.watchEvents },
    source: { maxMessageBytes: t.maxRecordBytes },
    format: { linePrefix: t.linePrefix, hostname: t.hostname, maxMessageBytes: t.maxMessageBytes },
    sink: {
      flushIntervalMs: t.flushIntervalMs,
      concurrency: t.concurrency,
      maxBatchFrames: t.maxBatchFrames,
      maxBatchBytes: t.maxBatchBytes,
      bufferCapBytes: t.bufferCapBytes,
      gzip: t.gzip,
    },
    spool: t.spoolDir === undefined ? undefined : { dir: t.spoolDir, capBytes: t.spoolCapBytes, syncIntervalMs: t.spoolSyncMs },
    shutdownTimeoutMs: t.shutdownTimeoutMs,
  };
}

export async function main(argv: readonly string[]): Promise<void> {
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
  if (config.demo) {
    const { runDemo } = await import('../demo/demo');
    return runDemo(config);
  }
  if (config.serveDbDir === undefined) {
    fatal(EXIT_CONFIG, 'SERVE_DB_DIR is not set: point it (or --serve-db-dir) at the serve database directory');
  }
  const { finished } = await startDaemon(config, config.serveDbDir);
  await finished;
}

export interface RunningDaemon {
  readonly collector: Collector;
  readonly finished: Promise<void>; // resolves after the collector stopped (process.exitCode set)
}

/**
 * Starts the collector with our log on stderr, the stats line and the signal handlers; used by
 * main() and by the demo. Exits the process on a start-up error.
 */
export async function startDaemon(config: DaemonConfig, serveDbDir: string): Promise<RunningDaemon> {
  const log = createLogger(config.logFormat, (line) => process.stderr.write(`${line}\n`));
  let collector: Collector;
  try {
    collector = createCollector(collectorOptions(config, serveDbDir));
  } catch (err) {
    fatal(EXIT_CONFIG, err); // an option a stage refuses (e.g. a line prefix it cannot render)
  }
  collector.event$.subscribe(log);
  try {
    await collector.start();
  } catch (err) {
    fatal(EXIT_FAILURE, err); // ServeDbError: missing directory, corrupt serves.loaded, ...
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

  const onHup = (): void => collector.reload();
  let signals = 0;
  const onStop = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      // A second Ctrl-C means "now": the operator has decided undelivered logs are acceptable.
      process.stderr.write(`${PROG}: ${signal} again, exiting without waiting for delivery\n`);
      process.exit(EXIT_FAILURE);
    }
    log({ kind: 'signal', level: 'info', signal });
    void collector.stop();
  };
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);

  let deliveredAll = true;
  const finished = new Promise<void>((resolve) =>
    collector.event$.subscribe({
      next: (e) => {
        if (e.kind === 'stopped') deliveredAll = e.delivered_all;
      },
      complete: () => {
        statsLine?.unsubscribe();
        statsSub.unsubscribe();
        process.off('SIGHUP', onHup);
        process.off('SIGTERM', onStop);
        process.off('SIGINT', onStop);
        process.exitCode = deliveredAll ? 0 : EXIT_FAILURE;
        resolve();
      },
    }),
  );
  return { collector, finished };
}
