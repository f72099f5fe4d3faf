// The daemon's configuration: environment (SERVE_DB_DIR, LOGPLEX_URL, as the Go original read
// them) and flags for the same plus every tunable. Anything wrong becomes one ConfigError line
// naming what to fix; main() prints it and exits non-zero before anything starts.
// Tunables left unset stay undefined here so that each stage's own defaults (in its options.ts)
// remain the single place they are defined.
import { parseArgs } from 'node:util';

export type LogFormat = 'logfmt' | 'json';

export interface DaemonConfig {
  readonly help: boolean;
  readonly version: boolean;
  readonly demo: boolean; // run with a built-in stand-in and emulator (README's run command)
  readonly serveDbDir: string | undefined; // required unless demo/help/version
  readonly logplexUrl: URL | undefined; // optional: only serves using `t` need it
  readonly logFormat: LogFormat;
  readonly tunables: Tunables;
}

/** Every knob an operator may turn; undefined means the stage's default. */
export interface Tunables {
  readonly flushIntervalMs?: number;
  readonly concurrency?: number;
  readonly maxBatchFrames?: number;
  readonly maxBatchBytes?: number;
  readonly bufferCapBytes?: number;
  readonly maxMessageBytes?: number; // frame cap: bytes of syslog MSG per frame
  readonly maxRecordBytes?: number; // protocol cap on one L message
  readonly linePrefix?: string;
  readonly hostname?: string;
  readonly pollIntervalMs?: number;
  readonly watchEvents?: boolean; // false: poll and SIGHUP only (file systems without change events)
  readonly gzip?: boolean;
  readonly statsIntervalMs?: number; // 0 disables the periodic stats line
  readonly shutdownTimeoutMs?: number;
  readonly spoolDir?: string; // on-disk spool for what logplex cannot take now; off when unset
  readonly spoolCapBytes?: number; // all serves' spool files together
  readonly spoolSyncMs?: number; // longest an appended batch waits for fdatasync
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  override readonly name = 'ConfigError';
}

const FLAGS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  demo: { type: 'boolean' },
  'serve-db-dir': { type: 'string' },
  'logplex-url': { type: 'string' },
  'log-format': { type: 'string' },
  'flush-interval': { type: 'string' },
  concurrency: { type: 'string' },
  'batch-frames': { type: 'string' },
  'batch-size': { type: 'string' },
  'buffer-cap': { type: 'string' },
  'frame-cap': { type: 'string' },
  'record-cap': { type: 'string' },
  'line-prefix': { type: 'string' },
  hostname: { type: 'string' },
  'poll-interval': { type: 'string' },
  'no-watch': { type: 'boolean' },
  gzip: { type: 'boolean' },
  'stats-interval': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'spool-dir': { type: 'string' },
  'spool-cap': { type: 'string' },
  'spool-sync': { type: 'string' },
} as const;

export const USAGE = `usage: pg-logplexcollector [options]

Carries PostgreSQL logs (pg_logfebe) to logplex. Serves (sockets, identities, tokens) come from
the serve database directory; see README.md.

  --serve-db-dir DIR      serve database directory        (env SERVE_DB_DIR; required)
  --logplex-url URL       logplex endpoint for serves with "t" tokens
                                                          (env LOGPLEX_URL)
  --log-format FMT        our own log on stderr: logfmt or json          (logfmt)
  --flush-interval DUR    post a batch at least this often, e.g. 250ms
  --concurrency N         concurrent posts per serve
  --batch-frames N        frames per post at most
  --batch-size SIZE       body bytes per post at most, e.g. 1MiB
  --buffer-cap SIZE       bytes queued per serve before dropping, e.g. 32MiB
  --frame-cap SIZE        bytes of message per syslog frame (at most 10000)
  --record-cap SIZE       largest log record accepted, e.g. 1MiB
  --line-prefix TEMPLATE  log_line_prefix-style template ('sql_error_code = %e ')
  --hostname NAME         syslog HOSTNAME                               (postgres)
  --poll-interval DUR     re-read serves.new at least this often, e.g. 10s
  --no-watch              no file-system events: poll and SIGHUP only (e.g. NFS)
  --gzip                  gzip request bodies
  --stats-interval DUR    periodic stats line; 0 turns it off, e.g. 60s
  --shutdown-timeout DUR  on SIGTERM, how long to flush before giving up, e.g. 10s
  --spool-dir DIR         spool batches logplex cannot take now to disk (0700), deliver them
                          later, also after a restart                   (off)
  --spool-cap SIZE        all serves' spool files together, e.g. 1GiB    (1GiB)
  --spool-sync DUR        fdatasync spool appends at most this often     (1s)
  --demo                  run against a built-in logplex stand-in and a pg_logfebe emulator
  -h, --help              this text
  -v, --version           the version

Signals: SIGTERM/SIGINT flush and exit 0; SIGHUP re-reads the serve database now.`;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1 << 20, mb: 1e6, mib: 1 << 20, g: 1 << 30, gb: 1e9, gib: 1 << 30 };

/** `250ms`, `10s`, `2m`; a bare number is milliseconds. */
export function parseDuration(flag: string, text: string, min: number, max: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  const value = m === null ? NaN : Number(m[1]) * (DURATION_UNITS[m[2] ?? 'ms'] ?? NaN);
  return inRange(flag, text, value, min, max, 'a duration like 250ms, 10s or 2m');
}

/** `1048576`, `64KiB`, `32MiB`, `1MB`. */
export function parseSize(flag: string, text: string, min: number, max: number): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m === null ? undefined : SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  const value = m === null || unit === undefined ? NaN : Number(m[1]) * unit;
  return inRange(flag, text, Math.floor(value), min, max, 'a size like 65536, 64KiB or 32MiB');
}

function parseCount(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  return inRange(flag, text, value, min, max, 'a whole number');
}

function inRange(flag: string, text: string, value: number, min: number, max: number, what: string): number {
  if (!Number.isFinite(value)) throw new ConfigError(`${flag} ${JSON.stringify(text)}: expected ${what}`);
  if (value < min || value > max) {
    throw new ConfigError(`${flag} ${JSON.stringify(text)}: must be between ${min} and ${max}`);
  }
  return value;
}

/** Parses LOGPLEX_URL; the message never repeats the URL, which may hold credentials. */
export function parseLogplexUrl(source: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${source} is not a valid URL: expected e.g. https://logplex.example.com/logs`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${source} must be an http:// or https:// URL, not ${url.protocol}`);
  }
  return url;
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): DaemonConfig {
  let values: ReturnType<typeof parseFlags>;
  try {
    values = parseFlags(argv);
  } catch (err) {
    // parseArgs' own messages are clear ("Unknown option '--x'"); keep them, add the way out.
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)} (see --help)`);
  }
  const logFormat = values['log-format'] ?? 'logfmt';
  if (logFormat !== 'logfmt' && logFormat !== 'json') {
    throw new ConfigError(`--log-format ${JSON.stringify(logFormat)}: expected logfmt or json`);
  }
  const urlText = values['logplex-url'] ?? nonEmpty(env.LOGPLEX_URL);
  const urlSource = values['logplex-url'] !== undefined ? '--logplex-url' : 'LOGPLEX_URL';
  const opt = <T>(text: string | undefined, parse: (t: string) => T): T | undefined =>
    text === undefined ? undefined : parse(text);
  const tunables: Tunables = {
    flushIntervalMs: opt(values['flush-interval'], (t) => parseDuration('--flush-interval', t, 1, 60_000)),
    concurrency: opt(values.concurrency, (t) => parseCount('--concurrency', t, 1, 64)),
    maxBatchFrames: opt(values['batch-frames'], (t) => parseCount('--batch-frames', t, 1, 100_000)),
    // At least one whole frame (10240 bytes) must fit; 16 MiB is far past what logplex should take.
    maxBatchBytes: opt(values['batch-size'], (t) => parseSize('--batch-size', t, 10240, 16 * 1024 * 1024)),
    bufferCapBytes: opt(values['buffer-cap'], (t) => parseSize('--buffer-cap', t, 64 * 1024, 4 * 1024 ** 3)),
    maxMessageBytes: opt(values['frame-cap'], (t) => parseSize('--frame-cap', t, 256, 10_000)),
    maxRecordBytes: opt(values['record-cap'], (t) => parseSize('--record-cap', t, 4096, 256 * 1024 ** 2)),
    linePrefix: values['line-prefix'],
    hostname: opt(values.hostname, (t) => {
      if (!/^[\x21-\x7e]{1,255}$/.test(t)) throw new ConfigError('--hostname: expected printable ASCII without spaces');
      return t;
    }),
    pollIntervalMs: opt(values['poll-interval'], (t) => parseDuration('--poll-interval', t, 100, 3_600_000)),
    watchEvents: values['no-watch'] === true ? false : undefined,
    gzip: values.gzip,
    statsIntervalMs: opt(values['stats-interval'], (t) => parseDuration('--stats-interval', t, 0, 86_400_000)),
    shutdownTimeoutMs: opt(values['shutdown-timeout'], (t) => parseDuration('--shutdown-timeout', t, 0, 600_000)),
    spoolDir: opt(values['spool-dir'], (t) => {
      if (t.trim() === '') throw new ConfigError('--spool-dir: expected a directory path');
      return t;
    }),
    // At least a few batches; at most what a disk beside a database should ever give to logs.
    spoolCapBytes: opt(values['spool-cap'], (t) => parseSize('--spool-cap', t, 1024 * 1024, 1024 * 1024 ** 3)),
    spoolSyncMs: opt(values['spool-sync'], (t) => parseDuration('--spool-sync', t, 1, 60_000)),
  };
  if (tunables.spoolDir === undefined && (tunables.spoolCapBytes !== undefined || tunables.spoolSyncMs !== undefined)) {
    throw new ConfigError('--spool-cap and --spool-sync need --spool-dir');
  }
  return {
    help: values.help ?? false,
    version: values.version ?? false,
    demo: values.demo ?? false,
    serveDbDir: values['serve-db-dir'] ?? nonEmpty(env.SERVE_DB_DIR),
    logplexUrl: urlText === undefined ? undefined : parseLogplexUrl(urlSource, urlText),
    logFormat,
    tunables,
  };
}

function parseFlags(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: FLAGS, allowPositionals: false, strict: true }).values;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s;
}
