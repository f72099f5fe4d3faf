// The daemon's configuration: environment (SERVE_DB_DIR, LOGPLEX_URL, as the Go original read
// them) and flags for the same plus every tunable. Anything wrong becomes one ConfigError line
// naming what to fix; main() prints it and exits non-zero before anything starts.
// Tunables left unset stay undefined here so that each stage's own defaults (in its options.ts)
// remain the single place they are defined.
import { CollectorError } from '../errors';
import { parseArgs } from 'node:util';
import { MetricsOptionsError, parseListenAddress } from '../metrics/options';
import { lookupGroupId } from '../source/group';
import { DEFAULT_FORMAT_OPTIONS } from '../format/options';
import { DEFAULT_COLLECTOR_OPTIONS } from '../options';
import { DEFAULT_SERVE_DB_OPTIONS } from '../servedb/options';
import { DEFAULT_SINK_OPTIONS } from '../sink/options';
import { DEFAULT_SOURCE_OPTIONS } from '../source/options';
import { DEFAULT_SPOOL_OPTIONS } from '../spool/options';

export type LogFormat = 'logfmt' | 'json';

export interface DaemonConfig {
  readonly help: boolean;
  readonly version: boolean;
  readonly demo: boolean; // run with a built-in stand-in and emulator (README's run command)
  readonly serveDbDir: string | undefined; // required unless demo/help/version
  readonly logplexUrl: URL | undefined; // optional: only serves using `t` need it
  readonly logFormat: LogFormat;
  readonly metricsListen: string | undefined; // host:port for /metrics, /healthz, /readyz; off when undefined
  readonly metricsProcess: boolean; // add prom-client's process metrics
  readonly logLevel: LogLevel;
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
  readonly maxRecordFrames?: number; // frames one record may become; past it a marker ends it
  readonly maxPartialBytes?: number; // what all connections' unfinished messages may hold together
  readonly handshakeTimeoutMs?: number; // V and I must both arrive within this of connecting
  readonly maxConnectionsPerServe?: number; // open connections per serve; newer ones are closed
  readonly reservedFileDescriptors?: number; // descriptors sockets leave for posts and the serve db
  readonly linePrefix?: string;
  readonly hostname?: string;
  readonly pollIntervalMs?: number;
  readonly watchEvents?: boolean; // false: poll and SIGHUP only (file systems without change events)
  readonly gzip?: boolean;
  readonly postDeadlineMs?: number; // one POST attempt, headers and body together
  readonly statsIntervalMs?: number; // 0 disables the periodic stats line
  readonly shutdownTimeoutMs?: number;
  readonly socketMode?: number; // file mode of every serve's socket
  readonly socketGroup?: number; // group id of every serve's socket
  readonly spoolDir?: string; // on-disk spool for what logplex cannot take now; off when unset
  readonly spoolCapBytes?: number; // all serves' spool files together
  readonly spoolSyncMs?: number; // longest an appended batch waits for fdatasync
}

export class ConfigError extends CollectorError {
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
  'log-level': { type: 'string' },
  'flush-interval': { type: 'string' },
  concurrency: { type: 'string' },
  'batch-frames': { type: 'string' },
  'batch-size': { type: 'string' },
  'buffer-cap': { type: 'string' },
  'frame-cap': { type: 'string' },
  'record-cap': { type: 'string' },
  'max-record-frames': { type: 'string' },
  'partial-cap': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'fd-reserve': { type: 'string' },
  'line-prefix': { type: 'string' },
  hostname: { type: 'string' },
  'poll-interval': { type: 'string' },
  'no-watch': { type: 'boolean' },
  gzip: { type: 'boolean' },
  'post-deadline': { type: 'string' },
  'stats-interval': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'socket-mode': { type: 'string' },
  'socket-group': { type: 'string' },
  'metrics-listen': { type: 'string' },
  'metrics-process': { type: 'boolean' },
  'spool-dir': { type: 'string' },
  'spool-cap': { type: 'string' },
  'spool-sync': { type: 'string' },
} as const;

/** Our own log's threshold: events below it are not printed. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Debug lines (a connection that closed before identifying, say) are for chasing a problem. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
/** One stats line a minute: enough to graph, not enough to drown in. */
export const DEFAULT_STATS_INTERVAL_MS = 60_000;

/** Exit codes, as --help and README give them. */
export const EXIT = {
  ok: 0, // clean stop: everything read was delivered (also --help, --version)
  failure: 1, // could not start (serve database missing or corrupt), or stopped with undelivered lines
  config: 2, // bad configuration: a flag, LOGPLEX_URL or an option a stage refuses
} as const;

const ms = (n: number): string =>
  n % 3_600_000 === 0 ? `${n / 3_600_000}h` : n % 60_000 === 0 ? `${n / 60_000}m` : n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
const bytes = (n: number): string =>
  n % (1 << 30) === 0 ? `${n / (1 << 30)}GiB` : n % (1 << 20) === 0 ? `${n / (1 << 20)}MiB` : n % 1024 === 0 ? `${n / 1024}KiB` : String(n);

/**
 * `--help`, with each flag's default read from the stage that owns it (so the text cannot drift
 * from the code): [flag and argument, what it does, default].
 */
const HELP_ROWS: ReadonlyArray<readonly [string, string, string]> = [
  ['--serve-db-dir DIR', 'serve database directory (env SERVE_DB_DIR)', 'none: required'],
  ['--logplex-url URL', 'logplex endpoint for serves with "t" tokens (env LOGPLEX_URL)', 'none'],
  ['--log-format FMT', 'our own log on stderr: logfmt or json', 'logfmt'],
  ['--log-level LEVEL', 'least level printed: debug, info, warn or error', DEFAULT_LOG_LEVEL],
  ['--flush-interval DUR', 'post a batch at least this often', ms(DEFAULT_SINK_OPTIONS.flushIntervalMs)],
  ['--concurrency N', 'concurrent posts per serve', String(DEFAULT_SINK_OPTIONS.concurrency)],
  ['--batch-frames N', 'frames per post at most', String(DEFAULT_SINK_OPTIONS.maxBatchFrames)],
  ['--batch-size SIZE', 'body bytes per post at most', bytes(DEFAULT_SINK_OPTIONS.maxBatchBytes)],
  ['--buffer-cap SIZE', 'bytes queued per serve before dropping', bytes(DEFAULT_SINK_OPTIONS.bufferCapBytes)],
  ['--frame-cap SIZE', 'bytes of message per syslog frame (at most 10000)', bytes(DEFAULT_FORMAT_OPTIONS.maxMessageBytes)],
  ['--record-cap SIZE', 'largest log record accepted', bytes(DEFAULT_SOURCE_OPTIONS.maxMessageBytes)],
  ['--max-record-frames N', 'frames one record may become; the rest is cut with a marker', String(DEFAULT_FORMAT_OPTIONS.maxRecordFrames)],
  ['--partial-cap SIZE', "bytes all connections' unfinished records may hold", bytes(DEFAULT_SOURCE_OPTIONS.maxPartialBytes)],
  ['--handshake-timeout DUR', 'close a connection without V and I after this long', ms(DEFAULT_SOURCE_OPTIONS.handshakeTimeoutMs)],
  ['--max-connections N', 'open connections per serve; newer ones are closed', String(DEFAULT_SOURCE_OPTIONS.maxConnectionsPerServe)],
  ['--fd-reserve N', 'descriptors listeners and connections leave free, for posts and the serve database', String(DEFAULT_SOURCE_OPTIONS.reservedFileDescriptors)],
  ['--line-prefix TEMPLATE', 'log_line_prefix-style template', `'${DEFAULT_FORMAT_OPTIONS.linePrefix}'`],
  ['--hostname NAME', 'syslog HOSTNAME', DEFAULT_FORMAT_OPTIONS.hostname],
  ['--poll-interval DUR', 're-read serves.new at least this often', ms(DEFAULT_SERVE_DB_OPTIONS.pollIntervalMs)],
  ['--no-watch', 'no file-system events: poll and SIGHUP only (e.g. NFS)', 'off'],
  ['--gzip', 'gzip request bodies', DEFAULT_SINK_OPTIONS.gzip ? 'on' : 'off'],
  ['--post-deadline DUR', 'longest one post may take, answer included', ms(DEFAULT_SINK_OPTIONS.postDeadlineMs)],
  ['--stats-interval DUR', 'periodic stats line; 0 turns it off', ms(DEFAULT_STATS_INTERVAL_MS)],
  ['--spool-dir DIR', 'spool batches logplex cannot take now to disk (0700), deliver them later, also after a restart', 'off'],
  ['--spool-cap SIZE', "all serves' spool files together", bytes(DEFAULT_SPOOL_OPTIONS.capBytes)],
  ['--spool-sync DUR', 'fdatasync spool appends at most this often', ms(DEFAULT_SPOOL_OPTIONS.syncIntervalMs)],
  ['--shutdown-timeout DUR', 'on SIGTERM, how long to deliver before giving up', ms(DEFAULT_COLLECTOR_OPTIONS.shutdownTimeoutMs)],
  ['--socket-mode MODE', 'octal mode of every socket file', `0${DEFAULT_SOURCE_OPTIONS.socketMode.toString(8)}`],
  ['--socket-group GROUP', 'group (name or gid) of every socket file', "the collector's"],
  ['--metrics-listen ADDR', 'serve /metrics, /healthz, /readyz on host:port, e.g. 127.0.0.1:9187', 'off'],
  ['--metrics-process', 'add process metrics (CPU, memory, GC) to /metrics', 'off'],
  ['--demo', 'run against a built-in logplex stand-in and a pg_logfebe emulator', 'off'],
  ['-h, --help', 'this text', ''],
  ['-v, --version', 'the version', ''],
];

function renderUsage(): string {
  const width = Math.max(...HELP_ROWS.map(([flag]) => flag.length)) + 2;
  const rows = HELP_ROWS.map(([flag, what, dflt]) => `  ${flag.padEnd(width)}${what}${dflt === '' ? '' : ` (default: ${dflt})`}`);
  return `usage: pg-logplexcollector [options]

Carries PostgreSQL logs (pg_logfebe) to logplex. Serves (sockets, identities, tokens) come from
the serve database directory; see README.md.

${rows.join('\n')}

Durations take a unit: 250ms, 10s, 2m, 1h (0 alone means zero). Sizes: 65536, 64KiB, 32MiB, 1MB.

Signals: SIGTERM/SIGINT stop listening, deliver what was read, then exit (a second one exits at
once, status 1); SIGHUP re-reads the serve database now.

Exit status: ${EXIT.ok} clean stop, everything read was delivered (and --help, --version);
  ${EXIT.failure} could not start (serve database missing or corrupt), stopped with undelivered lines,
    or stopped by a second signal;
  ${EXIT.config} bad configuration (a flag, LOGPLEX_URL, an option a stage refuses).`;
}

export const USAGE = renderUsage();

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1 << 20, mb: 1e6, mib: 1 << 20, g: 1 << 30, gb: 1e9, gib: 1 << 30 };

/**
 * `250ms`, `10s`, `2m`, `1h`. The unit is required: `--flush-interval 5` meant 5 ms here and
 * 5 s to anyone used to Go or systemd, so it is refused rather than guessed. `0` alone is zero.
 */
export function parseDuration(flag: string, text: string, min: number, max: number): number {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(t);
  const value = t === '0' ? 0 : m === null ? NaN : Math.round(Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? NaN));
  return inRange(flag, text, value, min, max, 'a duration with a unit, like 250ms, 10s, 2m or 1h');
}

/** `1048576`, `64KiB`, `32MiB`, `1MB`. */
export function parseSize(flag: string, text: string, min: number, max: number): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m === null ? undefined : SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  const value = m === null || unit === undefined ? NaN : Number(m[1]) * unit;
  return inRange(flag, text, Math.floor(value), min, max, 'a size like 65536, 64KiB or 32MiB');
}

/** `0660`, `660`, `0o660`: octal, as chmod takes it. */
export function parseSocketMode(text: string): number {
  const m = /^(?:0o?)?([0-7]{3,4})$/i.exec(text.trim());
  if (m === null) throw new ConfigError(`--socket-mode ${JSON.stringify(text)}: expected an octal file mode like 0660 or 0777`);
  const mode = parseInt(m[1]!, 8);
  // connect() needs write permission; a socket nobody but its owner can write is almost always a mistake.
  if ((mode & 0o222) === 0) throw new ConfigError(`--socket-mode ${JSON.stringify(text)}: nobody could connect (no write permission)`);
  return mode;
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
  const logLevel = values['log-level'] ?? DEFAULT_LOG_LEVEL;
  if (!isLogLevel(logLevel)) throw new ConfigError(`--log-level ${JSON.stringify(logLevel)}: expected debug, info, warn or error`);
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
    maxRecordFrames: opt(values['max-record-frames'], (t) => parseCount('--max-record-frames', t, 2, 100_000)),
    // At least one record at the record cap (checked against it by the source's options).
    maxPartialBytes: opt(values['partial-cap'], (t) => parseSize('--partial-cap', t, 4096, 16 * 1024 ** 3)),
    handshakeTimeoutMs: opt(values['handshake-timeout'], (t) => parseDuration('--handshake-timeout', t, 1, 3_600_000)),
    maxConnectionsPerServe: opt(values['max-connections'], (t) => parseCount('--max-connections', t, 1, 1_000_000)),
    reservedFileDescriptors: opt(values['fd-reserve'], (t) => parseCount('--fd-reserve', t, 0, 1_000_000)),
    linePrefix: values['line-prefix'],
    hostname: opt(values.hostname, (t) => {
      if (!/^[\x21-\x7e]{1,255}$/.test(t)) throw new ConfigError('--hostname: expected printable ASCII without spaces');
      return t;
    }),
    pollIntervalMs: opt(values['poll-interval'], (t) => parseDuration('--poll-interval', t, 100, 3_600_000)),
    watchEvents: values['no-watch'] === true ? false : undefined,
    gzip: values.gzip,
    // Under a second would fail healthy posts of a full body on a slow link; an hour is no bound.
    postDeadlineMs: opt(values['post-deadline'], (t) => parseDuration('--post-deadline', t, 1000, 3_600_000)),
    statsIntervalMs: opt(values['stats-interval'], (t) => parseDuration('--stats-interval', t, 0, 86_400_000)),
    shutdownTimeoutMs: opt(values['shutdown-timeout'], (t) => parseDuration('--shutdown-timeout', t, 0, 600_000)),
    socketMode: opt(values['socket-mode'], parseSocketMode),
    socketGroup: opt(values['socket-group'], (t) => {
      const gid = lookupGroupId(t);
      if (gid === undefined) throw new ConfigError(`--socket-group ${JSON.stringify(t)}: no such group (expected a group name or id)`);
      return gid;
    }),
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
    metricsListen: opt(values['metrics-listen'], (t) => {
      try {
        parseListenAddress(t);
      } catch (err) {
        if (err instanceof MetricsOptionsError) throw new ConfigError(`--metrics-listen ${JSON.stringify(t)}: expected host:port, e.g. 127.0.0.1:9187`);
        throw err;
      }
      return t;
    }),
    metricsProcess: values['metrics-process'] ?? false,
    logLevel,
    tunables,
  };
}

function parseFlags(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: FLAGS, allowPositionals: false, strict: true }).values;
}

function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s;
}
