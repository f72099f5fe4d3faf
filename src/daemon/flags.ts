// Every flag of the daemon, once: its name, its environment variable, its argument, its default
// (read from the stage that owns it), what it does, and how its text is parsed. The parser,
// `--help`, the environment names and README's flag table are all made from this table, so
// none of them can name a flag, a variable or a default the others do not.
import { MetricsOptionsError, parseListenAddress } from '../metrics/options';
import { lookupGroupId } from '../source/group';
import { DEFAULT_FORMAT_OPTIONS } from '../format/options';
import { DEFAULT_COLLECTOR_OPTIONS } from '../options';
import { DEFAULT_SERVE_DB_OPTIONS } from '../servedb/options';
import { DEFAULT_SINK_OPTIONS } from '../sink/options';
import { DEFAULT_SOURCE_OPTIONS, MAX_READ_INTERVAL_MS } from '../source/options';
import { DEFAULT_SPOOL_OPTIONS } from '../spool/options';
import { ConfigError } from './configError';
import { formatDuration as ms, formatSize as bytes, parseCount, parseDuration, parseSize } from './units';

/** Our own log's threshold: events below it are not printed. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'logfmt' | 'json';
/** Debug lines (a connection that closed before identifying, say) are for chasing a problem. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
/** One stats line a minute: enough to graph, not enough to drown in. */
export const DEFAULT_STATS_INTERVAL_MS = 60_000;

/** Every variable of ours but the two the Go original read starts with this. */
export const ENV_PREFIX = 'PG_LOGPLEXCOLLECTOR_';

export interface Flag<V> {
  readonly name: string; // `--name`
  readonly short?: string; // `-x`
  readonly arg?: string; // the argument's placeholder in --help; absent for a switch
  readonly env: string | undefined; // the environment variable; undefined for modes (--help)
  readonly help: string; // one line for --help
  readonly more?: string; // what README's table adds to it
  readonly dflt: string; // the default as one would write it; '' for none
  readonly prose?: true; // the default is words ("off"), not a value to quote
  readonly parse: (text: string, source: string) => V; // `source`: the flag or variable the text came from
}

const envOf = (name: string): string => `${ENV_PREFIX}${name.toUpperCase().replace(/-/g, '_')}`;

/** A value flag; its environment variable follows from its name. */
function value<V>(name: string, arg: string, help: string, dflt: string, parse: (text: string, source: string) => V, extra: Partial<Flag<V>> = {}): Flag<V> {
  return { name, arg, env: envOf(name), help, dflt, parse, ...extra };
}

/** A switch: present on the command line, or `1/true/yes/on` (`0/false/no/off`) in the environment. */
function toggle(name: string, help: string, extra: Partial<Flag<boolean>> = {}): Flag<boolean> {
  return { name, env: envOf(name), help, dflt: 'off', prose: true, parse: parseSwitch, ...extra };
}

function parseSwitch(text: string, source: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
  throw new ConfigError(`${source} ${JSON.stringify(text)}: expected 1, true, yes or on (or 0, false, no, off)`);
}

const duration = (min: number, max: number) => (t: string, source: string) => parseDuration(source, t, min, max);
const size = (min: number, max: number) => (t: string, source: string) => parseSize(source, t, min, max);
const count = (min: number, max: number) => (t: string, source: string) => parseCount(source, t, min, max);
const text = (t: string): string => t;

function oneOf<T extends string>(choices: readonly T[], what: string) {
  return (t: string, source: string): T => {
    const found = choices.find((c) => c === t);
    if (found === undefined) throw new ConfigError(`${source} ${JSON.stringify(t)}: expected ${what}`);
    return found;
  };
}

/** `0660`, `660`, `0o660`: octal, as chmod takes it. */
export function parseSocketMode(t: string, source = '--socket-mode'): number {
  const m = /^(?:0o?)?([0-7]{3,4})$/i.exec(t.trim());
  if (m === null) throw new ConfigError(`${source} ${JSON.stringify(t)}: expected an octal file mode like 0660 or 0777`);
  const mode = parseInt(m[1] ?? '', 8);
  // connect() needs write permission; a socket nobody but its owner can write is almost always a mistake.
  if ((mode & 0o222) === 0) throw new ConfigError(`${source} ${JSON.stringify(t)}: nobody could connect (no write permission)`);
  return mode;
}

/** Parses LOGPLEX_URL; the message never repeats the URL, which may hold credentials. */
export function parseLogplexUrl(t: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    throw new ConfigError(`${source} is not a valid URL: expected e.g. https://logplex.example.com/logs`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${source} must be an http:// or https:// URL, not ${url.protocol}`);
  }
  return url;
}

/**
 * The table. Order is --help's and README's. Bounds: what the stage could take at all, and
 * where a value past them is a typo rather than a wish (each says why where it is not obvious).
 */
const TABLE = {
  serveDbDir: value('serve-db-dir', 'DIR', 'serve database directory', 'none: required', text, { env: 'SERVE_DB_DIR', prose: true, more: '(must exist)' }),
  logplexUrl: value('logplex-url', 'URL', 'logplex endpoint for serves with "t" tokens', 'none', parseLogplexUrl, {
    env: 'LOGPLEX_URL',
    prose: true,
    more: '(serves with `url` carry their own)',
  }),
  flushInterval: value('flush-interval', 'DUR', 'post a batch at least this often', ms(DEFAULT_SINK_OPTIONS.flushIntervalMs), duration(1, 60_000)),
  concurrency: value('concurrency', 'N', 'concurrent posts per serve', String(DEFAULT_SINK_OPTIONS.concurrency), count(1, 64)),
  batchFrames: value('batch-frames', 'N', 'frames per post at most', String(DEFAULT_SINK_OPTIONS.maxBatchFrames), count(1, 100_000), {
    more: '(a batch closes on this, the size below, or the flush interval)',
  }),
  // At least one whole frame (10240 bytes) must fit; 16 MiB is far past what logplex should take.
  batchSize: value('batch-size', 'SIZE', 'body bytes per post at most', bytes(DEFAULT_SINK_OPTIONS.maxBatchBytes), size(10240, 16 * 1024 ** 2), {
    more: '(before gzip)',
  }),
  bufferCap: value('buffer-cap', 'SIZE', 'bytes queued per serve before dropping', bytes(DEFAULT_SINK_OPTIONS.bufferCapBytes), size(64 * 1024, 4 * 1024 ** 3), {
    more: 'new lines (and counting them)',
  }),
  frameCap: value('frame-cap', 'SIZE', 'bytes of message per syslog frame, at most 10000', String(DEFAULT_FORMAT_OPTIONS.maxMessageBytes), size(256, 10_000), {
    more: '(logplex refuses frames over 10240)',
  }),
  recordCap: value('record-cap', 'SIZE', 'largest log record accepted', bytes(DEFAULT_SOURCE_OPTIONS.maxMessageBytes), size(4096, 256 * 1024 ** 2), {
    more: '; a bigger one closes that connection',
  }),
  maxRecordFrames: value('max-record-frames', 'N', 'frames one record may become; the rest is cut with a marker', String(DEFAULT_FORMAT_OPTIONS.maxRecordFrames), count(2, 100_000)),
  // At least one record at the record cap (checked against it by the source's options).
  partialCap: value('partial-cap', 'SIZE', "bytes all connections' unfinished records may hold", bytes(DEFAULT_SOURCE_OPTIONS.maxPartialBytes), size(4096, 16 * 1024 ** 3), {
    more: 'together; a connection whose next read would pass it is closed with `protocol_error code=LOGFEBE_PARTIAL_LIMIT`',
  }),
  handshakeTimeout: value('handshake-timeout', 'DUR', 'close a connection without V and I after this long', ms(DEFAULT_SOURCE_OPTIONS.handshakeTimeoutMs), duration(1, 3_600_000), {
    more: '(`protocol_error code=LOGFEBE_HANDSHAKE_TIMEOUT`)',
  }),
  readInterval: value('read-interval', 'DUR', 'read each connection once per this (0: as data arrives)', ms(DEFAULT_SOURCE_OPTIONS.readIntervalMs), duration(0, MAX_READ_INTERVAL_MS), {
    more: '; a connection whose kernel queue is filling is read as data arrives until it drains',
  }),
  maxConnections: value('max-connections', 'N', 'open connections per serve; newer ones are closed (unidentified ones first)', String(DEFAULT_SOURCE_OPTIONS.maxConnectionsPerServe), count(1, 1_000_000), {
    more: '(`connections_refused reason=max_connections`)',
  }),
  maxUnidentified: value('max-unidentified', 'N', 'connections per serve that have not sent V and I; a newer one closes the oldest that has sent nothing', String(DEFAULT_SOURCE_OPTIONS.maxUnidentifiedPerServe), count(1, 1_000_000), {
    more: '(`connections_refused reason=unidentified_limit`); never closes a backend that identified',
  }),
  fdReserve: value('fd-reserve', 'N', 'descriptors listeners and connections leave free, for posts and the serve database', String(DEFAULT_SOURCE_OPTIONS.reservedFileDescriptors), count(0, 1_000_000), {
    more: '(`connections_refused reason=open_file_limit`)',
  }),
  linePrefix: value('line-prefix', 'TEMPLATE', 'log_line_prefix-style template', `'${DEFAULT_FORMAT_OPTIONS.linePrefix}'`, text),
  hostname: value('hostname', 'NAME', 'syslog HOSTNAME', DEFAULT_FORMAT_OPTIONS.hostname, (t, source) => {
    if (!/^[\x21-\x7e]{1,255}$/.test(t)) throw new ConfigError(`${source}: expected printable ASCII without spaces`);
    return t;
  }),
  pollInterval: value('poll-interval', 'DUR', 're-read serves.new at least this often', ms(DEFAULT_SERVE_DB_OPTIONS.pollIntervalMs), duration(100, 3_600_000)),
  noWatch: toggle('no-watch', 'no file-system events: poll and SIGHUP only (e.g. NFS)'),
  gzip: toggle('gzip', 'gzip request bodies', DEFAULT_SINK_OPTIONS.gzip ? { dflt: 'on' } : {}),
  // Under a second would fail healthy posts of a full body on a slow link; an hour is no bound.
  postDeadline: value('post-deadline', 'DUR', 'longest one post may take, answer included', ms(DEFAULT_SINK_OPTIONS.postDeadlineMs), duration(1000, 3_600_000), {
    more: '; then it fails as a timeout and is retried',
  }),
  statsInterval: value('stats-interval', 'DUR', 'periodic stats line; 0 turns it off', ms(DEFAULT_STATS_INTERVAL_MS), duration(0, 86_400_000)),
  spoolDir: value('spool-dir', 'DIR', 'spool batches logplex cannot take now to disk (0700), deliver them later, also after a restart', 'off', (t, source) => {
    if (t.trim() === '') throw new ConfigError(`${source}: expected a directory path`);
    return t;
  }, { prose: true }),
  // At least a few batches; at most what a disk beside a database should ever give to logs.
  spoolCap: value('spool-cap', 'SIZE', "all serves' spool files together", bytes(DEFAULT_SPOOL_OPTIONS.capBytes), size(1024 ** 2, 1024 * 1024 ** 3)),
  spoolSync: value('spool-sync', 'DUR', 'fdatasync spool appends at most this often', ms(DEFAULT_SPOOL_OPTIONS.syncIntervalMs), duration(1, 60_000)),
  shutdownTimeout: value('shutdown-timeout', 'DUR', 'on SIGTERM, how long to deliver before giving up', ms(DEFAULT_COLLECTOR_OPTIONS.shutdownTimeoutMs), duration(0, 600_000)),
  socketMode: value('socket-mode', 'MODE', 'octal mode of every socket file', `0${DEFAULT_SOURCE_OPTIONS.socketMode.toString(8)}`, parseSocketMode),
  socketGroup: value('socket-group', 'GROUP', 'group (name or gid) of every socket file', "the collector's", (t, source) => {
    const gid = lookupGroupId(t);
    if (gid === undefined) throw new ConfigError(`${source} ${JSON.stringify(t)}: no such group (expected a group name or id)`);
    return gid;
  }, { prose: true }),
  logFormat: value('log-format', 'FMT', 'our own log on stderr: logfmt or json', 'logfmt', oneOf<LogFormat>(['logfmt', 'json'], 'logfmt or json')),
  logLevel: value('log-level', 'LEVEL', 'least level printed: debug, info, warn or error', DEFAULT_LOG_LEVEL, oneOf<LogLevel>(LOG_LEVELS, 'debug, info, warn or error')),
  metricsListen: value('metrics-listen', 'ADDR', 'serve /metrics, /healthz, /readyz on host:port, e.g. 127.0.0.1:9187', 'off', (t, source) => {
    try {
      parseListenAddress(t);
    } catch (err) {
      if (err instanceof MetricsOptionsError) throw new ConfigError(`${source} ${JSON.stringify(t)}: expected host:port, e.g. 127.0.0.1:9187`);
      throw err;
    }
    return t;
  }, { prose: true }),
  metricsProcess: toggle('metrics-process', 'add process metrics (CPU, memory, GC) to /metrics'),
  demo: toggle('demo', 'run against a built-in logplex stand-in and a pg_logfebe emulator', { env: undefined }),
  help: toggle('help', 'this text', { short: 'h', env: undefined, dflt: '' }),
  version: toggle('version', 'the version', { short: 'v', env: undefined, dflt: '' }),
} satisfies Record<string, Flag<unknown>>;

type FlagTypes = { [K in keyof typeof TABLE]: ReturnType<(typeof TABLE)[K]['parse']> };
export type FlagKey = keyof FlagTypes;
// Re-typed as a mapped type so that `FLAGS[key]` keeps its value type for a generic key.
export const FLAGS: { readonly [K in FlagKey]: Flag<FlagTypes[K]> } = TABLE;
/** What the flags and the environment said: undefined where neither said anything. */
export type FlagValues = { -readonly [K in FlagKey]?: FlagTypes[K] };

const FLAG_LIST: ReadonlyArray<readonly [FlagKey, Flag<unknown>]> = (Object.keys(FLAGS) as FlagKey[]).map((k) => [k, FLAGS[k]]);

/** Every flag's name, for parseArgs and for suggestions. */
export const FLAG_NAMES: readonly string[] = FLAG_LIST.map(([, f]) => f.name);

/** parseArgs' option table. */
export function parseArgsOptions(): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  return Object.fromEntries(
    FLAG_LIST.map(([, f]) => [f.name, f.short === undefined ? { type: f.arg === undefined ? 'boolean' : 'string' } : { type: f.arg === undefined ? 'boolean' : 'string', short: f.short }]),
  );
}

/**
 * Each flag's value: the command line's if given, else its environment variable's (an empty
 * variable counts as unset), parsed; errors name where the bad text came from.
 */
export function readFlags(given: Readonly<Record<string, string | boolean | undefined>>, env: NodeJS.ProcessEnv): FlagValues {
  const out: FlagValues = {};
  const read = <K extends FlagKey>(key: K): void => {
    const flag: Flag<FlagTypes[K]> = FLAGS[key];
    const fromArgv = given[flag.name];
    if (fromArgv === true) {
      out[key] = flag.parse('true', `--${flag.name}`);
      return;
    }
    if (typeof fromArgv === 'string') {
      out[key] = flag.parse(fromArgv, `--${flag.name}`);
      return;
    }
    const fromEnv = flag.env === undefined ? undefined : env[flag.env];
    if (flag.env !== undefined && fromEnv !== undefined && fromEnv.trim() !== '') out[key] = flag.parse(fromEnv, flag.env);
  };
  for (const [key] of FLAG_LIST) read(key);
  return out;
}

/** Where the value of a flag came from, as errors name it: `--spool-dir` or `PG_LOGPLEXCOLLECTOR_SPOOL_DIR`. */
export function sourceOf(key: FlagKey, given: Readonly<Record<string, unknown>>): string {
  const flag: Flag<unknown> = FLAGS[key];
  return given[flag.name] !== undefined || flag.env === undefined ? `--${flag.name}` : flag.env;
}

/** The closest flag name to a mistyped one, when it is close enough to be what was meant. */
export function suggestFlag(name: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of FLAG_NAMES) {
    const distance = editDistance(name, candidate);
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  // Two edits (a dropped and a doubled letter) for a long name, one for a short one.
  return best !== undefined && best.distance <= Math.min(2, Math.floor(name.length / 4)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

const flagWithArg = (f: Flag<unknown>): string =>
  `${f.short === undefined ? '' : `-${f.short}, `}--${f.name}${f.arg === undefined ? '' : ` ${f.arg}`}`;

/** --help's rows: the flag, what it does with its default, and its environment variable. */
export function renderHelpRows(): string {
  const width = Math.max(...FLAG_LIST.map(([, f]) => flagWithArg(f).length)) + 2;
  return FLAG_LIST.map(([, f]) => {
    const line = `  ${flagWithArg(f).padEnd(width)}${f.help}${f.dflt === '' ? '' : ` (default: ${f.dflt})`}`;
    return f.env === undefined ? line : `${line}\n  ${''.padEnd(width)}env ${f.env}`;
  }).join('\n');
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** README's flag table, in markdown: what the spec compares README.md with. */
export function renderReadmeFlagTable(): string {
  const rows = FLAG_LIST.map(([, f]) => {
    const env = f.env === undefined ? '' : `\`${f.env}\``;
    const dflt = f.dflt === '' ? '' : f.prose === true ? f.dflt : `\`${f.dflt}\``;
    const what = f.more === undefined ? f.help : `${f.help}${/^[;,]/.test(f.more) ? '' : ' '}${f.more}`;
    return `| \`${flagWithArg(f)}\` | ${env} | ${cell(dflt)} | ${cell(what)} |`;
  });
  return ['| flag | environment | default | what it does |', '|---|---|---|---|', ...rows].join('\n');
}
