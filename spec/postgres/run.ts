// `npm run test:postgres`: the collector against a real PostgreSQL with the real pg_logfebe.
//
// A throwaway cluster (csvlog, log_statement = all, connections and disconnections, pg_logfebe
// preloaded) logs to the built daemon, which posts to the logplex stand-in in this process.
// pgbench and error-making SQL run; PostgreSQL stops; the daemon is told to stop and delivers
// everything. Then the two witnesses must agree: every csvlog record arrives exactly once, as the
// frames its fields make; no frame passes logplex's 10240 bytes; pgBadger reads the same errors
// and queries from the shipped lines as from the csvlog.
//
// Exit status: 0 passed, 1 failed, 77 skipped (something missing: it says what and how to get it).
// `--tps-runs N` adds N interleaved rounds of pgbench runs: csvlog alone, a reader that only
// discards (eager, and in ticks), and the collector reading as data arrives and in ticks.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_FORMAT_OPTIONS, MAX_FRAME_BYTES } from '../../src/format/options';
import { startLogplexStandIn, type LogplexStandIn } from '../../src/tools/logplexStandIn';
import { DaemonProcess } from '../support/daemonProcess';
import { cpuSeconds } from '../../bench/harness/procStats';
import { pgbadgerReport, type PgBadgerReport } from '../support/pgbadger';
import { Cluster, descendantsOf, pgbenchTps } from './cluster';
import { SendWaitSampler, wakeUps } from './costs';
import { DiscardReader, buildDiscardReader } from './discardReader';
import { DEFAULT_SOURCE_OPTIONS } from '../../src/source/options';
import { compare, expectedFrames } from './compare';
import { parseCsvlog, parseStderrLog, type CsvlogRecord } from './csvlog';
import { findPostgres, type PostgresTools } from './prerequisites';
import { ShippedLog } from './shipped';
import { EXPECTED_RECORDS, MISSING_DATABASE, errorScript } from './workload';

const EXIT_SKIPPED = 77; // automake's "skipped": the machine lacks something, nothing was proven

const SERVE_NAME = 'E2E';
const TOKEN = 't.00000000-0000-4000-8000-0000000e2e15';
// Not NUL-padded on the wire: real pg_logfebe sends 3 bytes of server memory after it.
const IDENTITY = 'pg15 capture';
const SOURCE_NAME = 'app'; // what `heroku logs` shows for a Heroku Postgres token

// Deadlines are generous on purpose: they only turn a hang into a failure, and the test must pass
// on a loaded 2-core machine. Everything waits on a condition, never on a fixed sleep.
const DEADLINES = {
  listeningMs: 60_000, // serves.new written → the daemon's socket listening
  serverCommandMs: 300_000, // initdb, pg_ctl start/stop, pgbench -i
  psqlMs: 120_000,
  daemonStopMs: 300_000, // SIGTERM → exit, under --shutdown-timeout below
  pgbadgerMs: 600_000,
} as const;
const DAEMON_SHUTDOWN_TIMEOUT = '240s';

interface RunOptions {
  readonly seconds: number; // pgbench duration
  readonly clients: number;
  readonly tpsRuns: number; // interleaved rounds of every reader configuration; 0: none
  readonly scale: number; // pgbench scale of the tps runs
  readonly keep: boolean; // leave the temporary directory for a look
}

const USAGE = `usage: npm run test:postgres -- [--seconds 10] [--clients 8] [--tps-runs N] [--scale 16] [--keep]

Runs the collector against a real PostgreSQL with pg_logfebe (see README). Exit status 0 passed,
1 failed, 77 skipped (PostgreSQL, pg_logfebe or pgBadger missing: it says what and how to get it).
Overrides: PG_CONFIG (pg_config to use), PG_LOGFEBE_LIBDIR (directory holding pg_logfebe.so),
PGBADGER (pgbadger to use).
  --seconds S    pgbench run length (default 10)
  --clients N    pgbench clients (default 8)
  --tps-runs N   also N interleaved rounds of pgbench runs: csvlog alone; a C reader that only
                 discards, eager and in ticks; the collector with --read-interval 0 and its default
  --scale S      pgbench scale of the tps runs (default 16)
  --keep         keep the temporary directory (cluster, csvlog, shipped lines)`;

function parseOptions(argv: string[]): RunOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      seconds: { type: 'string' },
      clients: { type: 'string' },
      'tps-runs': { type: 'string' },
      scale: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) return undefined;
  const int = (name: string, v: string | undefined, fallback: number, min: number): number => {
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${String(v)}`);
    return n;
  };
  return {
    seconds: int('seconds', values.seconds, 10, 1),
    clients: int('clients', values.clients, 8, 1),
    tpsRuns: int('tps-runs', values['tps-runs'], 0, 0),
    scale: int('scale', values.scale, 16, 1),
    keep: values.keep === true,
  };
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

// What must not outlive an interrupted run (Ctrl-C): the cluster and the daemon, by their own pids.
const onInterrupt = new Set<() => void>();
const elapsed = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/** The collector side of a run: the stand-in here, the daemon as a child, one serve. */
class Collector {
  readonly socketPath: string;
  readonly #serveDb: string;
  private constructor(
    readonly standIn: LogplexStandIn,
    readonly daemon: DaemonProcess,
    dir: string,
  ) {
    this.#serveDb = join(dir, 'servedb');
    this.socketPath = join(dir, 'sock', 'e2e.sock');
  }

  static async start(root: string, phase: string, flags: readonly string[] = []): Promise<Collector> {
    const dir = join(root, phase);
    mkdirSync(join(dir, 'servedb'), { recursive: true });
    // The server runs as `postgres`: it must reach the socket, so its directory is world-searchable.
    mkdirSync(join(dir, 'sock'), { mode: 0o755 });
    chmodSync(join(dir, 'sock'), 0o755);
    chmodSync(dir, 0o755);
    const standIn = await startLogplexStandIn({ tokens: [TOKEN] });
    const daemon = new DaemonProcess(['--shutdown-timeout', DAEMON_SHUTDOWN_TIMEOUT, '--stats-interval', '0', ...flags], {
      SERVE_DB_DIR: join(dir, 'servedb'),
      LOGPLEX_URL: standIn.url,
    });
    const collector = new Collector(standIn, daemon, dir);
    const tmp = join(collector.#serveDb, 'serves.tmp');
    writeFileSync(tmp, JSON.stringify({ serves: [{ i: IDENTITY, t: TOKEN, p: collector.socketPath, name: SERVE_NAME }] }));
    renameSync(tmp, join(collector.#serveDb, 'serves.new'));
    await daemon.waitFor('listening', (l) => l.socket === collector.socketPath, DEADLINES.listeningMs);
    return collector;
  }

  /** SIGTERM, then waits for the daemon to deliver and exit (SIGKILL past the deadline). */
  async stop(): Promise<{ code: number | null; deliveredAll: boolean }> {
    this.daemon.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), DEADLINES.daemonStopMs)));
    const exit = await Promise.race([this.daemon.exited, late]);
    clearTimeout(timer);
    if (exit === 'late') {
      this.daemon.kill('SIGKILL');
      await this.daemon.exited;
      throw new Error(`the daemon did not exit within ${DEADLINES.daemonStopMs} ms of SIGTERM`);
    }
    await this.standIn.close();
    return { code: exit.code, deliveredAll: this.daemon.events('stopped').some((e) => e.delivered_all === 'true') };
  }

  /** Error paths: nothing left running. */
  abandon(): void {
    if (this.daemon.child.exitCode === null && this.daemon.child.signalCode === null) this.daemon.kill('SIGKILL');
    void this.standIn.close();
  }
}

function clusterSettings(tools: PostgresTools, cluster: Cluster, socketPath: string): Record<string, string | number | boolean> {
  return {
    listen_addresses: '', // unix socket only, in our own directory
    unix_socket_directories: cluster.socketDir,
    logging_collector: true,
    log_destination: 'csvlog',
    log_directory: cluster.logDir,
    log_filename: 'postgresql.log', // csvlog writes postgresql.csv
    log_rotation_age: 0,
    log_rotation_size: 0,
    log_statement: 'all',
    log_connections: true,
    log_disconnections: true,
    shared_preload_libraries: tools.preload,
    'logfebe.unix_socket': socketPath,
    'logfebe.identity': IDENTITY,
    fsync: false, // a throwaway cluster: spare the shared machine's disk
  };
}

/** pgBadger's per-level line counts, summed over databases (NAME is the database in logplex input). */
function levels(report: PgBadgerReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const byLevel of Object.values(report.logs_type)) for (const [level, n] of Object.entries(byLevel)) out[level] = (out[level] ?? 0) + n;
  return out;
}

/**
 * pgBadger's error patterns, each with how often it occurred and every occurrence's message,
 * DETAIL, HINT and STATEMENT, whatever database it filed them under.
 */
function errorPatterns(report: PgBadgerReport): string {
  // pgBadger 12's logplex input keeps a continuation line whole, `\n<time> app[postgres.PID]: [NAME]
  // [S-N] text` (its continuation regex has no fractional seconds), and its csv input turns the
  // newline into a space: compare the text alone, with whitespace runs as one space.
  const text = (s: string): string => s.replace(/\n\S+ \S+\[postgres\.\d+\]: \[[^\]]*\] \[\d+-\d+\] /g, '\n').replace(/\s+/g, ' ');
  const out: Record<string, { count: number; seen: string[] }> = {};
  for (const byPattern of Object.values(report.error_info)) {
    for (const [pattern, info] of Object.entries(byPattern)) {
      const entry = (out[pattern] ??= { count: 0, seen: [] });
      entry.count += info.count ?? 0;
      (info.error ?? []).forEach((error, i) =>
        entry.seen.push(JSON.stringify([error, info.detail?.[i] ?? '', info.hint?.[i] ?? '', info.statement?.[i] ?? ''].map(text))),
      );
    }
  }
  for (const entry of Object.values(out)) entry.seen.sort();
  return JSON.stringify(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

const sortedJson = (o: Record<string, number>): string => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))));

async function verifiedRun(tools: PostgresTools, root: string, options: RunOptions, failures: string[]): Promise<Cluster> {
  const started = performance.now();
  const collector = await Collector.start(root, 'verified');
  const standIn = collector.standIn;
  const herokuLog = join(root, 'verified', 'heroku.log');
  const shipped = new ShippedLog(standIn.received$, herokuLog, SOURCE_NAME);
  const cluster = new Cluster(tools, root);
  onInterrupt.add(() => cluster.abandon());
  onInterrupt.add(() => collector.abandon());
  try {
    await cluster.init(DEADLINES.serverCommandMs);
    cluster.configure(clusterSettings(tools, cluster, collector.socketPath));
    await cluster.start(DEADLINES.serverCommandMs);
    say(`cluster up (${tools.version}, ${cluster.dataDir}) after ${elapsed(started)}`);

    await cluster.pgbench(['-i', '-s', '1', '-q'], 'e2e-pgbench-init', DEADLINES.serverCommandMs);
    const bench = await cluster.pgbench(
      ['-c', String(options.clients), '-j', String(Math.min(options.clients, 2)), '-T', String(options.seconds)],
      'e2e-pgbench',
      options.seconds * 1000 + DEADLINES.serverCommandMs,
    );
    const tps = pgbenchTps(bench.stdout);

    const scriptPath = join(root, 'errors.sql');
    writeFileSync(scriptPath, errorScript());
    chmodSync(scriptPath, 0o644);
    const script = await cluster.psql(['-f', scriptPath, '-o', '/dev/null'], { applicationName: 'e2e-errors', timeoutMs: DEADLINES.psqlMs });
    if (script.code !== 0) failures.push(`psql -f errors.sql exited ${script.code}: ${script.stderr.slice(0, 500)}`);
    const fatal = await cluster.psql(['-c', 'SELECT 1'], { database: MISSING_DATABASE, applicationName: 'e2e-missing-db', timeoutMs: DEADLINES.psqlMs });
    if (fatal.code !== 2 || !fatal.stderr.includes('does not exist')) failures.push(`psql -d ${MISSING_DATABASE} should fail to connect (exit 2), got ${fatal.code}: ${fatal.stderr}`);

    await cluster.stop(DEADLINES.serverCommandMs);
    const stopping = performance.now();
    const stopped = await collector.stop();
    await shipped.close();
    say(`PostgreSQL stopped; the daemon delivered and exited ${stopped.code} ${Math.round(performance.now() - stopping)} ms after SIGTERM (workload and delivery ${elapsed(started)})`);

    // The daemon's own account.
    if (stopped.code !== 0 || !stopped.deliveredAll) failures.push(`daemon exit ${stopped.code}, delivered_all ${stopped.deliveredAll}`);
    for (const bad of ['protocol_error', 'identity_mismatch', 'drop', 'batch_lost', 'post_failed', 'format_failed']) {
      const seen = collector.daemon.events(bad);
      if (seen.length > 0) failures.push(`daemon logged ${seen.length} ${bad}: ${JSON.stringify(seen[0])}`);
    }
    const connects = collector.daemon.events('connect');
    if (connects.length === 0 || connects.some((c) => c.identity !== IDENTITY)) failures.push(`connections: ${connects.length}, identities ${[...new Set(connects.map((c) => c.identity))].join(', ')}`);
    const recordsRead = collector.daemon.events('disconnect').reduce((sum, d) => sum + Number(d.records ?? 0), 0);

    // The stand-in's account.
    const statuses = standIn.stats().statuses;
    if (Object.keys(statuses).some((s) => s !== '204')) failures.push(`the stand-in answered ${JSON.stringify(statuses)}`);
    if (shipped.maxFrameBytes > MAX_FRAME_BYTES) failures.push(`a frame of ${shipped.maxFrameBytes} bytes (logplex takes ${MAX_FRAME_BYTES} at most)`);
    if (shipped.duplicateFrames > 0) failures.push(`${shipped.duplicateFrames} frames arrived more than once: ${shipped.oddities.join(' | ')}`);
    if (shipped.untaggedFrames > 0) failures.push(`${shipped.untaggedFrames} frames name no record: ${shipped.oddities.join(' | ')}`);
    if ([...shipped.names.keys()].some((n) => n !== SERVE_NAME)) failures.push(`tag names ${[...shipped.names.keys()].join(', ')}, expected ${SERVE_NAME}`);

    // PostgreSQL's account.
    const csvlog: CsvlogRecord[] = parseCsvlog(readFileSync(cluster.csvlogPath, 'utf8'));
    for (const e of EXPECTED_RECORDS) if (!csvlog.some(e.matches)) failures.push(`the workload made no ${e.what} (not in the csvlog)`);
    const benchRecords = csvlog.filter((r) => r.applicationName === 'e2e-pgbench').length;
    if (benchRecords === 0) failures.push('pgbench made no records');

    // The postmaster's first records, before the logging collector ran: on stderr, not in the csvlog.
    const early = parseStderrLog(readFileSync(cluster.stderrPath, 'utf8'));
    const linePrefix = (r: CsvlogRecord): string => `sql_error_code = ${r.sqlState} `; // the daemon's default --line-prefix
    const result = compare(csvlog, early, shipped, (r, seq) => expectedFrames(r, seq, SERVE_NAME, DEFAULT_FORMAT_OPTIONS.maxMessageBytes, linePrefix));
    if (result.missingCount > 0) failures.push(`${result.missingCount} csvlog records never arrived, e.g.\n    ${result.missing.join('\n    ')}`);
    if (result.differentCount > 0) failures.push(`${result.differentCount} csvlog records arrived otherwise than PostgreSQL logged them, e.g.\n    ${result.different.join('\n    ')}`);
    if (result.extraCount > 0) failures.push(`${result.extraCount} shipped records are not in the csvlog, e.g.\n    ${result.extra.join('\n    ')}`);
    if (recordsRead !== shipped.records.size) failures.push(`the daemon read ${recordsRead} records, ${shipped.records.size} arrived`);

    // pgBadger's account of each.
    const pgbadgerStarted = performance.now();
    const [fromCsv, fromShipped] = await Promise.all([
      pgbadgerReport(tools.pgbadger, cluster.csvlogPath, 'csv', DEADLINES.pgbadgerMs),
      pgbadgerReport(tools.pgbadger, herokuLog, 'logplex', DEADLINES.pgbadgerMs),
    ]);
    const [csvStat, shippedStat] = [fromCsv.overall_stat, fromShipped.overall_stat];
    if (csvStat.errors_number !== shippedStat.errors_number) failures.push(`pgBadger errors: csvlog ${csvStat.errors_number}, shipped ${shippedStat.errors_number}`);
    if (csvStat.queries_number !== shippedStat.queries_number) failures.push(`pgBadger queries: csvlog ${csvStat.queries_number}, shipped ${shippedStat.queries_number}`);
    // csv input counts a record once, at its severity (DETAIL, HINT, … are columns); logplex input
    // counts lines, DETAIL and HINT lines too. So the severities are compared, plus the early records.
    const csvLevels = levels(fromCsv);
    const shippedLevels = levels(fromShipped);
    for (const e of early) csvLevels[e.severity] = (csvLevels[e.severity] ?? 0) + 1;
    const severityLevels = Object.keys(csvLevels);
    if (severityLevels.some((l) => csvLevels[l] !== shippedLevels[l])) {
      failures.push(`pgBadger records by severity: csvlog (and stderr) ${sortedJson(csvLevels)}, shipped ${sortedJson(shippedLevels)}`);
    }
    if (errorPatterns(fromCsv) !== errorPatterns(fromShipped)) failures.push(`pgBadger errors with their DETAIL, HINT, STATEMENT: csvlog ${errorPatterns(fromCsv)}\n  shipped ${errorPatterns(fromShipped)}`);
    if (csvStat.errors_number === 0 || csvStat.queries_number === 0) failures.push(`pgBadger found ${csvStat.errors_number} errors and ${csvStat.queries_number} queries in the csvlog: it read nothing`);

    say(`records: ${csvlog.length} in the csvlog and ${early.length} on stderr before it, ${result.deliveredOnce} arrived exactly once as logged (${shipped.frames} frames, largest ${shipped.maxFrameBytes} bytes; the daemon read ${recordsRead} on ${connects.length} connections)`);
    say(`pgbench: ${tps.toFixed(1)} tps (${options.clients} clients, ${options.seconds} s), ${benchRecords} records = ${Math.round(benchRecords / options.seconds)} records/s shipped`);
    say(`pgBadger (${elapsed(pgbadgerStarted)}): csvlog ${csvStat.errors_number} errors, ${csvStat.queries_number} queries; shipped lines ${shippedStat.errors_number} errors, ${shippedStat.queries_number} queries; levels ${sortedJson(levels(fromShipped))}`);
    return cluster;
  } catch (e) {
    cluster.abandon();
    collector.abandon();
    throw e;
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** One way of reading pg_logfebe's socket (or none), and what it cost in one pgbench run. */
interface Reader {
  readonly name: string;
  readonly socket: string; // logfebe.unix_socket; '' for csvlog alone
  readonly pid?: number; // the reading process, whose CPU and wake-ups are counted
  readonly shipped?: () => number; // lines it delivered so far (the collectors)
}
interface RunCost {
  readonly tps: number;
  readonly cpuS: number; // the reader's CPU over the run
  readonly wakeUpsPerS: number;
  readonly lines: number; // lines shipped during the run (collectors)
  readonly sendWaitShare: number; // of the backends' wchan samples
  // This process's CPU over the run: the sampler of backends' wchan in every configuration, and
  // the logplex stand-in too when a collector posts to it. Logplex runs elsewhere in production,
  // but here it takes its turns on the cores PostgreSQL uses.
  readonly runnerCpuS: number;
}

const DISCARD_TICK_MS = DEFAULT_SOURCE_OPTIONS.readIntervalMs;

/**
 * pgbench on csvlog alone, with a reader that only discards (eager, and in ticks of the
 * collector's default read interval), and with the collector reading as data arrives and in
 * ticks, interleaved (each round starts one further along) so the machine's drift falls on all.
 * One cluster throughout, switched by reload: csvlog alone is pg_logfebe with
 * logfebe.unix_socket unset (its hook returns at once).
 */
async function tpsComparison(root: string, cluster: Cluster, options: RunOptions, failures: string[]): Promise<void> {
  const eager = await Collector.start(root, 'tps-eager', ['--read-interval', '0']);
  onInterrupt.add(() => eager.abandon());
  const ticked = await Collector.start(root, 'tps-ticks');
  onInterrupt.add(() => ticked.abandon());
  const discards: DiscardReader[] = [];
  try {
    const binary = await buildDiscardReader(root, DEADLINES.serverCommandMs);
    mkdirSync(join(root, 'discard'), { mode: 0o755 });
    chmodSync(join(root, 'discard'), 0o755);
    const discardEager = await DiscardReader.start(binary, join(root, 'discard', 'eager.sock'), 0);
    const discardTicks = await DiscardReader.start(binary, join(root, 'discard', 'ticks.sock'), DISCARD_TICK_MS);
    discards.push(discardEager, discardTicks);
    for (const d of discards) onInterrupt.add(() => d.stop());
    const readers: Reader[] = [
      { name: 'csvlog alone', socket: '' },
      { name: 'discard, eager', socket: join(root, 'discard', 'eager.sock'), pid: discardEager.pid },
      { name: `discard, ${DISCARD_TICK_MS} ms ticks`, socket: join(root, 'discard', 'ticks.sock'), pid: discardTicks.pid },
      { name: 'collector, --read-interval 0', socket: eager.socketPath, pid: eager.daemon.child.pid, shipped: () => eager.standIn.stats().frames },
      {
        name: `collector, default (${DEFAULT_SOURCE_OPTIONS.readIntervalMs} ms)`,
        socket: ticked.socketPath,
        pid: ticked.daemon.child.pid,
        shipped: () => ticked.standIn.stats().frames,
      },
    ];
    await cluster.start(DEADLINES.serverCommandMs);
    const point = async (socket: string): Promise<void> => {
      await cluster.query(`ALTER SYSTEM SET logfebe.unix_socket = '${socket}'`, DEADLINES.psqlMs);
      await cluster.query('SELECT pg_reload_conf()', DEADLINES.psqlMs);
      // The postmaster re-reads the file on its own time; new sessions show when it has.
      const deadline = Date.now() + DEADLINES.psqlMs;
      while ((await cluster.query('SHOW logfebe.unix_socket', DEADLINES.psqlMs)) !== socket) {
        if (Date.now() > deadline) throw new Error(`logfebe.unix_socket did not become ${JSON.stringify(socket)} after a reload`);
      }
    };
    await point('');
    const init = performance.now();
    await cluster.pgbench(['-i', '-s', String(options.scale), '-q'], 'e2e-tps-init', DEADLINES.serverCommandMs);
    say(`tps runs: pgbench -i -s ${options.scale} in ${elapsed(init)}; ${readers.length} configurations × ${options.tpsRuns} rounds of ${options.seconds} s, load ${loadAverage()}`);
    const costs = new Map<string, RunCost[]>(readers.map((r) => [r.name, []]));
    for (let round = 0; round < options.tpsRuns; round++) {
      for (let k = 0; k < readers.length; k++) {
        const reader = readers[(round + k) % readers.length] as Reader;
        await point(reader.socket);
        const postmaster = cluster.postmasterPid as number;
        const sampler = new SendWaitSampler(() => descendantsOf(postmaster).filter((pid) => pid !== postmaster));
        const before = { cpu: reader.pid === undefined ? 0 : cpuSeconds(reader.pid), wake: reader.pid === undefined ? 0 : wakeUps(reader.pid), lines: reader.shipped?.() ?? 0 };
        const started = performance.now();
        const runnerBefore = process.cpuUsage();
        const run = await cluster.pgbench(
          ['-c', String(options.clients), '-j', String(Math.min(options.clients, 2)), '-T', String(options.seconds)],
          `e2e-tps-${round}-${k}`,
          options.seconds * 1000 + DEADLINES.serverCommandMs,
        );
        sampler.stop();
        // A collector posts what it read up to a flush later: count its lines once they stop coming.
        if (reader.shipped !== undefined) await settled(reader.shipped);
        const seconds = (performance.now() - started) / 1000;
        const runner = process.cpuUsage(runnerBefore);
        const cost: RunCost = {
          tps: pgbenchTps(run.stdout),
          cpuS: reader.pid === undefined ? 0 : cpuSeconds(reader.pid) - before.cpu,
          wakeUpsPerS: reader.pid === undefined ? 0 : (wakeUps(reader.pid) - before.wake) / seconds,
          lines: (reader.shipped?.() ?? 0) - before.lines,
          sendWaitShare: sampler.share,
          runnerCpuS: (runner.user + runner.system) / 1e6,
        };
        costs.get(reader.name)?.push(cost);
        say(
          `  round ${round + 1} ${reader.name.padEnd(30)} ${cost.tps.toFixed(1)} tps; reader CPU ${cost.cpuS.toFixed(2)} s, ` +
            `${Math.round(cost.wakeUpsPerS)} wake-ups/s${reader.shipped === undefined ? '' : `, ${cost.lines} lines shipped, ${((cost.cpuS * 1e6) / Math.max(1, cost.lines)).toFixed(2)} µs CPU/line`}; ` +
            `backends in send(): ${(cost.sendWaitShare * 100).toFixed(2)}% of ${sampler.samples} samples; runner CPU ${cost.runnerCpuS.toFixed(2)} s; load ${loadAverage()}`,
        );
      }
    }
    await cluster.stop(DEADLINES.serverCommandMs);
    for (const collector of [eager, ticked]) {
      const stopped = await collector.stop();
      if (stopped.code !== 0 || !stopped.deliveredAll) failures.push(`tps runs: daemon exit ${stopped.code}, delivered_all ${stopped.deliveredAll}`);
    }
    const alone = median((costs.get('csvlog alone') ?? []).map((c) => c.tps));
    say(`pgbench tps, ${options.tpsRuns} interleaved rounds (${options.clients} clients, -j ${Math.min(options.clients, 2)}, scale ${options.scale}, ${options.seconds} s, log_statement = all), medians:`);
    say('  | what reads pg_logfebe\'s socket | tps (median) | ÷ csvlog alone | reader CPU/run | CPU/line shipped | wake-ups/s | backends\' samples in send() | runner CPU/run (sampler; stand-in) |');
    say('  |---|---|---|---|---|---|---|---|');
    for (const reader of readers) {
      const runs = costs.get(reader.name) ?? [];
      const tps = median(runs.map((c) => c.tps));
      const perLine = reader.shipped === undefined ? '' : `${median(runs.map((c) => (c.cpuS * 1e6) / Math.max(1, c.lines))).toFixed(2)} µs`;
      const own = reader.pid === undefined;
      say(
        `  | ${reader.name} | ${tps.toFixed(1)} (${runs.map((c) => c.tps.toFixed(0)).join(', ')}) | ${(tps / alone).toFixed(3)} | ` +
          `${own ? '' : `${median(runs.map((c) => c.cpuS)).toFixed(2)} s`} | ${perLine} | ${own ? '' : Math.round(median(runs.map((c) => c.wakeUpsPerS)))} | ` +
          `${(median(runs.map((c) => c.sendWaitShare)) * 100).toFixed(2)}% | ${median(runs.map((c) => c.runnerCpuS)).toFixed(2)} s |`,
      );
    }
  } catch (e) {
    cluster.abandon();
    eager.abandon();
    ticked.abandon();
    throw e;
  } finally {
    for (const d of discards) d.stop();
  }
}

/** The machine's 1, 5 and 15 minute load averages. */
const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Waits until `count()` has not moved for a second (what a collector still had to post is in). */
async function settled(count: () => number): Promise<void> {
  let last = count();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = count();
    if (now === last) return;
    last = now;
  }
}

export async function main(argv: string[]): Promise<number> {
  let options: RunOptions | undefined;
  try {
    options = parseOptions(argv);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === undefined) {
    say(USAGE);
    return 0;
  }
  const found = findPostgres(process.env, process.getuid?.() ?? -1);
  if (!found.ok) {
    say('SKIPPED (exit 77): the real-PostgreSQL test needs what this machine lacks:');
    for (const m of found.missing) say(`  - missing: ${m.what}\n    get it:  ${m.how}`);
    return EXIT_SKIPPED;
  }
  const { tools } = found;
  say(`PostgreSQL: ${tools.bindir} (${tools.version}); pg_logfebe: ${tools.logfebeLibrary}${tools.runAs ? `; server runs as ${tools.runAs.user}` : ''}`);

  const root = mkdtempSync('/tmp/pg-e2e-');
  chmodSync(root, 0o755); // the server's user reaches its cluster and our socket through it
  const interrupted = (signal: NodeJS.Signals): void => {
    for (const cleanup of onInterrupt) cleanup();
    say(`${signal}: stopped the cluster and the daemon; kept ${root}`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const failures: string[] = [];
  const started = performance.now();
  try {
    const cluster = await verifiedRun(tools, root, options, failures);
    if (options.tpsRuns > 0) await tpsComparison(root, cluster, options, failures);
  } catch (e) {
    failures.push(`run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    if (options.keep || failures.length > 0) say(`kept ${root} for a look`);
    else rmSync(root, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    say(`FAILED after ${elapsed(started)}:`);
    for (const f of failures) say(`  - ${f}`);
    return 1;
  }
  say(`PASSED in ${elapsed(started)}`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
