// The daemon's configuration: every flag of flags.ts, each also from its environment variable
// (SERVE_DB_DIR and LOGPLEX_URL as the Go original named them, PG_LOGPLEXCOLLECTOR_* for the rest). Anything wrong becomes one ConfigError line
// naming what to fix; main() prints it and exits non-zero before anything starts.
// Tunables left unset stay undefined here so that each stage's own defaults (in its options.ts)
// remain the single place they are defined.
import { parseArgs } from 'node:util';
import { ConfigError } from './configError';
import { DEFAULT_LOG_LEVEL, FLAGS, parseArgsOptions, readFlags, renderHelpRows, sourceOf, suggestFlag, type LogFormat, type LogLevel } from './flags';
import { UNITS_HELP } from './units';

export interface DaemonConfig {
  readonly help: boolean;
  readonly version: boolean;
  readonly checkServes: string | undefined; // `check-serves FILE`: validate FILE, start nothing
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
  readonly readIntervalMs?: number; // each connection read once per this; 0: as data arrives
  readonly maxConnectionsPerServe?: number; // open connections per serve; newer ones are closed
  readonly maxUnidentifiedPerServe?: number; // connections per serve that have not identified; a newer one closes the oldest
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

export { ConfigError };
export { LOG_LEVELS, DEFAULT_LOG_LEVEL, DEFAULT_STATS_INTERVAL_MS, type LogFormat, type LogLevel } from './flags';
export { parseDuration, parseSize } from './units';

/** Exit codes, as --help and README give them. */
export const EXIT = {
  ok: 0, // clean stop: everything read was delivered (also --help, --version, a valid check-serves)
  failure: 1, // could not start (serve database missing or corrupt), stopped with undelivered lines, an invalid check-serves
  config: 2, // bad configuration: a flag, an environment variable or an option a stage refuses
} as const;

function renderUsage(): string {
  return `usage: pg-logplexcollector [options]
       pg-logplexcollector check-serves FILE

Carries PostgreSQL logs (pg_logfebe) to logplex. Serves (sockets, identities, tokens) come from
the serve database directory; see README.md. check-serves validates a serves file (serves.new)
without starting anything, with the daemon's messages: exit 0 if it would be accepted, 1 if not.

Every flag can also be set by its environment variable (shown under it); a flag given on the
command line wins over its variable. Switches take 1, true, yes or on (0, false, no, off).

${renderHelpRows()}

${UNITS_HELP}

Signals: SIGTERM/SIGINT stop listening, deliver what was read, then exit (a second one exits at
once, status 1); SIGHUP re-reads the serve database now.

Exit status: ${EXIT.ok} clean stop, everything read was delivered (and --help, --version);
  ${EXIT.failure} could not start (serve database missing or corrupt), stopped with undelivered lines,
    or stopped by a second signal;
  ${EXIT.config} bad configuration (a flag, an environment variable, an option a stage refuses).`;
}

export const USAGE = renderUsage();

/**
 * Unknown flags, checked before parseArgs so that the message can offer the flag that was
 * meant (parseArgs' own says only that it does not know it).
 */
function checkFlagNames(argv: readonly string[]): void {
  const options = parseArgsOptions();
  let takesValue = false;
  for (const arg of argv) {
    if (arg === '--') return;
    if (takesValue) {
      takesValue = false;
      continue;
    }
    if (!arg.startsWith('--')) continue;
    const [name = '', inline] = arg.slice(2).split('=', 2);
    const known = options[name];
    if (known === undefined) {
      const meant = suggestFlag(name);
      throw new ConfigError(`Unknown option '--${name}'${meant === undefined ? '' : `: did you mean --${meant}?`} (see --help)`);
    }
    takesValue = known.type === 'string' && inline === undefined;
  }
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): DaemonConfig {
  checkFlagNames(argv);
  let given: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values: given, positionals } = parseArgs({ args: [...argv], options: parseArgsOptions(), allowPositionals: true, strict: true }));
  } catch (err) {
    // parseArgs' own messages are clear ("Option '-x' ..."); keep them, add the way out.
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)} (see --help)`);
  }
  const checkServes = commandOf(positionals);
  const v = readFlags(given, env);
  if (v.spoolDir === undefined && (v.spoolCap !== undefined || v.spoolSync !== undefined)) {
    const which = v.spoolCap !== undefined ? sourceOf('spoolCap', given) : sourceOf('spoolSync', given);
    throw new ConfigError(`${which} needs --spool-dir (or ${FLAGS.spoolDir.env})`);
  }
  const tunables: Tunables = {
    flushIntervalMs: v.flushInterval,
    concurrency: v.concurrency,
    maxBatchFrames: v.batchFrames,
    maxBatchBytes: v.batchSize,
    bufferCapBytes: v.bufferCap,
    maxMessageBytes: v.frameCap,
    maxRecordBytes: v.recordCap,
    maxRecordFrames: v.maxRecordFrames,
    maxPartialBytes: v.partialCap,
    handshakeTimeoutMs: v.handshakeTimeout,
    readIntervalMs: v.readInterval,
    maxConnectionsPerServe: v.maxConnections,
    maxUnidentifiedPerServe: v.maxUnidentified,
    reservedFileDescriptors: v.fdReserve,
    linePrefix: v.linePrefix,
    hostname: v.hostname,
    pollIntervalMs: v.pollInterval,
    watchEvents: v.noWatch === true ? false : undefined,
    gzip: v.gzip,
    postDeadlineMs: v.postDeadline,
    statsIntervalMs: v.statsInterval,
    shutdownTimeoutMs: v.shutdownTimeout,
    socketMode: v.socketMode,
    socketGroup: v.socketGroup,
    spoolDir: v.spoolDir,
    spoolCapBytes: v.spoolCap,
    spoolSyncMs: v.spoolSync,
  };
  return {
    help: v.help ?? false,
    version: v.version ?? false,
    checkServes,
    demo: v.demo ?? false,
    serveDbDir: v.serveDbDir,
    logplexUrl: v.logplexUrl,
    logFormat: v.logFormat ?? 'logfmt',
    metricsListen: v.metricsListen,
    metricsProcess: v.metricsProcess ?? false,
    logLevel: v.logLevel ?? DEFAULT_LOG_LEVEL,
    tunables,
  };
}

/** The one subcommand, `check-serves FILE`; nothing else is taken as a positional argument. */
function commandOf(positionals: readonly string[]): string | undefined {
  if (positionals.length === 0) return undefined;
  const [command, file, ...rest] = positionals;
  if (command !== 'check-serves') throw new ConfigError(`unexpected argument ${JSON.stringify(command)}: the one command is check-serves FILE (see --help)`);
  if (file === undefined || rest.length > 0) throw new ConfigError('check-serves takes one FILE: pg-logplexcollector check-serves /path/to/serves.new');
  return file;
}
