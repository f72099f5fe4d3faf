// `npm run bench:idle [-- --rounds 3 --settle-ms 5000 --load-rounds 1 --no-load --baseline <commit>]`:
// what the daemon costs when nothing happens, and how long a line takes when something does.
//
// 1. Idle RSS, against the cheapest thing that could do the daemon's job of waiting: a node
//    process listening on one unix socket. In each round, in turn (the order rotates from round
//    to round), the minimal listener, the daemon on a serve database of 1 serve and of 100 serves
//    (the stand-in as logplex), and with --baseline the same daemons of another commit; each runs
//    alone, is left `settle-ms` after it listens, and its VmRSS is read from /proc. Target: the
//    daemon's median within IDLE_OVER_MINIMAL_MB of the listener's median, of the same run.
// 2. The real-pattern scenarios (`real8`, `real100`: PostgreSQL's one send() per record, 20,000
//    records/s) at the daemon's default --read-interval: p50/p99 of send() → the stand-in holding
//    the POST that carries the record, against flush interval + 2 read ticks + 100 ms, and the
//    peak RSS (VmHWM) against PEAK_RSS_MB.
// Targets are printed as PASS/FAIL, never asserted (machines differ); figures go to
// bench/results/idle-<time>.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DEFAULT_SOURCE_OPTIONS } from '../src/source/options';
import { startLogplexStandIn } from '../src/tools/logplexStandIn';
import { identityPaddingFor, prepareBaseline, type Baseline } from './harness/baseline';
import { DaemonChild, repoRoot, type ServeSpec } from './harness/daemon';
import { tokenOfServe } from './harness/load';
import { COLLECTOR_FLUSH_MS, DEFAULT_HARNESS_OPTIONS, FULL_SIZES, QUICK_SIZES, type HarnessOptions } from './harness/options';
import { statusMb } from './harness/procStats';
import { SCENARIOS } from './harness/scenarios';

/** The daemon idle may take at most this much more RSS than a minimal node unix-socket listener. */
export const IDLE_OVER_MINIMAL_MB = 10;
/** Peak RSS (VmHWM) in the real-pattern scenarios. */
export const PEAK_RSS_MB = 80;
/** Reads a tick may add to a line's way: the tick it arrived in, and one more for a catch-up read. */
const TICKS_IN_LATENCY = 2;
/** Round trip to logplex and our own scheduling, on top of the flush interval and the ticks. */
const LATENCY_SLACK_MS = 100;
/**
 * The p99 is also given without the records sent in the load's first seconds: the daemon's first
 * records pay for its warm-up (undici loaded at the first post, the JIT compiling the record path,
 * the young generation growing), and on a busy machine those seconds alone can make the p99.
 */
const WARM_UP_MS = 2_000;
const WARM_UP_STEP_MS = 250;
export const LATENCY_P99_BOUND_MS = COLLECTOR_FLUSH_MS + TICKS_IN_LATENCY * DEFAULT_SOURCE_OPTIONS.readIntervalMs + LATENCY_SLACK_MS;

interface Args {
  readonly rounds: number;
  readonly settleMs: number;
  readonly serveCounts: readonly number[];
  readonly loadRounds: number; // 0: idle figures only
  readonly quick: boolean;
  readonly baseline: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  let rounds = 3;
  let settleMs = 5_000;
  let serveCounts = [1, 100];
  let loadRounds = 1;
  let quick = false;
  let baseline: string | undefined;
  const whole = (flag: string, text: string | undefined, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} takes a whole number >= ${min}, not ${String(text)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--rounds') rounds = whole(a, argv[++i], 1);
    else if (a === '--settle-ms') settleMs = whole(a, argv[++i], 0);
    else if (a === '--serves') serveCounts = (argv[++i] ?? '').split(',').map((s) => whole(a, s, 1));
    else if (a === '--load-rounds') loadRounds = whole(a, argv[++i], 0);
    else if (a === '--no-load') loadRounds = 0;
    else if (a === '--quick') quick = true;
    else if (a === '--baseline') baseline = argv[++i];
    else throw new Error(`unknown argument ${a}; usage: idle.js [--rounds 3] [--settle-ms 5000] [--serves 1,100] [--load-rounds 1 | --no-load] [--quick] [--baseline <commit>]`);
  }
  return { rounds, settleMs, serveCounts, loadRounds, quick, baseline };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round1 = (n: number): number => Math.round(n * 10) / 10;
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

// The comparison: node, net, one listening unix socket that reads and discards.
const MINIMAL_LISTENER = `
const server = require('node:net').createServer((c) => { c.on('data', () => {}); c.on('error', () => {}); });
server.listen(process.argv[1], () => process.stdout.write('listening\\n'));
`;

/** VmRSS of the minimal listener, `settleMs` after it listens. */
async function minimalListenerRss(settleMs: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'plc-idle-'));
  const child = spawn(process.execPath, ['-e', MINIMAL_LISTENER, join(dir, 'm.sock')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (l) => l === 'listening' && resolve());
      child.once('exit', (code) => reject(new Error(`minimal listener exited (${String(code)}) before listening`)));
    });
    await sleep(settleMs);
    return statusMb(child.pid as number, 'VmRSS') ?? Number.NaN;
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** VmRSS of the daemon (ours, or the one at `root`) serving `serves` serves, `settleMs` after all listen. */
async function daemonRss(serves: number, settleMs: number, harness: HarnessOptions, root: string | undefined): Promise<{ rssMb: number; anonMb: number }> {
  const tokens = Array.from({ length: serves }, (_, i) => tokenOfServe(i));
  const standIn = await startLogplexStandIn({ tokens });
  // The daemon's own defaults, as an operator runs it (the stats line once a minute).
  const daemon = new DaemonChild({ logplexUrl: standIn.url, flags: [], keepEventKinds: new Set(['listening']), root });
  try {
    const specs: ServeSpec[] = tokens.map((token, i) => ({ identity: `idle-${i}`, token, socketPath: join(daemon.dir, `s${i}.sock`), name: `I${i}` }));
    await daemon.serve(specs, harness.startTimeoutMs);
    await sleep(settleMs);
    return { rssMb: statusMb(daemon.pid, 'VmRSS') ?? Number.NaN, anonMb: statusMb(daemon.pid, 'RssAnon') ?? Number.NaN };
  } finally {
    await daemon.stop(harness.stopTimeoutMs);
    await standIn.close();
  }
}

interface Contender {
  readonly name: string; // e.g. `daemon×100`, `base 117b4fe×1`
  readonly measure: () => Promise<number>;
  readonly samples: number[];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const harness = DEFAULT_HARNESS_OPTIONS;
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoRoot(), encoding: 'utf8' }).trim() !== '';
  const load0 = loadavg();
  process.stdout.write(
    `pg-logplexcollector idle bench at ${commit}${dirty ? ' (uncommitted changes)' : ''}: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}, ` +
      `load ${load0.map((l) => l.toFixed(2)).join(' ')}; ${args.rounds} round(s), settle ${args.settleMs} ms\n`,
  );
  let baseline: Baseline | undefined;
  try {
    if (args.baseline !== undefined) {
      baseline = prepareBaseline(repoRoot(), args.baseline);
      process.stdout.write(`baseline ${baseline.label} built in ${baseline.prepareS.toFixed(1)} s\n`);
    }
    const contenders: Contender[] = [{ name: 'minimal listener', measure: () => minimalListenerRss(args.settleMs), samples: [] }];
    for (const n of args.serveCounts) {
      contenders.push({ name: `daemon, ${n} serve${n === 1 ? '' : 's'}`, measure: async () => (await daemonRss(n, args.settleMs, harness, undefined)).rssMb, samples: [] });
      const base = baseline;
      if (base !== undefined) contenders.push({ name: `${base.label}, ${n} serve${n === 1 ? '' : 's'}`, measure: async () => (await daemonRss(n, args.settleMs, harness, base.root)).rssMb, samples: [] });
    }
    for (let r = 0; r < args.rounds; r++) {
      // Rotated, so that no contender always runs first (or right after the heaviest).
      const order = contenders.map((_, i) => contenders[(i + r) % contenders.length] as Contender);
      const cells: string[] = [];
      for (const c of order) {
        const mb = await c.measure();
        c.samples.push(mb);
        cells.push(`${c.name} ${round1(mb)}`);
      }
      process.stdout.write(`round ${r + 1}: ${cells.join(' | ')} MB\n`);
    }
    const minimal = median((contenders[0] as Contender).samples);
    process.stdout.write(`idle RSS, median of ${args.rounds} (range), VmRSS after ${args.settleMs} ms settled:\n`);
    const idle: Record<string, unknown> = {};
    for (const c of contenders) {
      const m = median(c.samples);
      const over = m - minimal;
      const verdict = c === contenders[0] ? '' : `  ${over <= IDLE_OVER_MINIMAL_MB ? 'PASS' : 'FAIL'} (+${round1(over)} MB over the listener; target <= +${IDLE_OVER_MINIMAL_MB})`;
      process.stdout.write(`  ${c.name.padEnd(22)} ${round1(m).toFixed(1).padStart(6)} MB (${round1(Math.min(...c.samples))}–${round1(Math.max(...c.samples))})${verdict}\n`);
      idle[c.name] = { medianMb: round1(m), samplesMb: c.samples.map(round1), overMinimalMb: round1(over), pass: c === contenders[0] ? undefined : over <= IDLE_OVER_MINIMAL_MB };
    }

    const sizes = args.quick ? QUICK_SIZES : FULL_SIZES;
    const latency: Record<string, unknown>[] = [];
    const daemons: { label: string; harness: HarnessOptions }[] = [];
    if (baseline !== undefined && args.loadRounds > 0) {
      daemons.push({ label: baseline.label, harness: { ...harness, daemonRoot: baseline.root, identityPadding: await identityPaddingFor(baseline.root) } });
    }
    daemons.push({ label: 'daemon', harness });
    for (let r = 0; r < args.loadRounds; r++) {
      for (const name of ['real8', 'real100'] as const) {
        for (const d of daemons) {
          const { load } = await SCENARIOS[name](sizes, d.harness);
          const { p50Ms, p99Ms, maxMs } = load.ledger.latency;
          const warm = load.markers.latencySentFrom((load.ledger.firstNotedAt ?? 0) + WARM_UP_MS);
          // Where the warm-up's cost lies: the p99 of the records sent in each quarter of the first 2 s.
          const first = load.ledger.firstNotedAt ?? 0;
          const warmUpProfile = Array.from({ length: WARM_UP_MS / WARM_UP_STEP_MS }, (_, i) => round1(load.markers.latencySentFrom(first + i * WARM_UP_STEP_MS, first + (i + 1) * WARM_UP_STEP_MS).p99Ms));
          const peak = load.collector.peakRssMb;
          const lost = load.ledger.missing;
          process.stdout.write(
            `${name.padEnd(8)} ${d.label.padEnd(7)} p50 ${round1(p50Ms)} ms, p99 ${round1(p99Ms)} ms (max ${round1(maxMs)}): ${p99Ms <= LATENCY_P99_BOUND_MS ? 'PASS' : 'FAIL'} (p99 <= ${LATENCY_P99_BOUND_MS} ms = flush ${COLLECTOR_FLUSH_MS} + ${TICKS_IN_LATENCY} × ${DEFAULT_SOURCE_OPTIONS.readIntervalMs} ms ticks + ${LATENCY_SLACK_MS}); ` +
              `after the first ${WARM_UP_MS / 1000} s p50 ${round1(warm.p50Ms)} p99 ${round1(warm.p99Ms)} ms; p99 by ${WARM_UP_STEP_MS} ms of the first ${WARM_UP_MS / 1000} s ${warmUpProfile.join(' ')} ms; ` +
              `peak RSS ${round1(peak)} MB: ${peak <= PEAK_RSS_MB ? 'PASS' : 'FAIL'} (<= ${PEAK_RSS_MB}); idle before it ${round1(load.collector.idleRssMb)} MB; ` +
              `${load.ledger.received}/${load.emulator.sent} delivered, ${lost} lost; longest send() block ${round1(load.emulator.maxBlockedMs)} ms\n`,
          );
          latency.push({
            scenario: name, daemon: d.label, round: r + 1, p50Ms: round1(p50Ms), p99Ms: round1(p99Ms), maxMs: round1(maxMs), boundMs: LATENCY_P99_BOUND_MS,
            afterWarmUp: { fromMs: WARM_UP_MS, p50Ms: round1(warm.p50Ms), p99Ms: round1(warm.p99Ms), count: warm.count },
            warmUpP99Ms: { stepMs: WARM_UP_STEP_MS, p99Ms: warmUpProfile },
            peakRssMb: round1(peak), idleRssMb: round1(load.collector.idleRssMb), lost, maxBlockedMs: round1(load.emulator.maxBlockedMs),
          });
        }
      }
    }
    const load1 = loadavg();
    process.stdout.write(`load average at the end: ${load1.map((l) => l.toFixed(2)).join(' ')}\n`);
    const dir = join(repoRoot(), 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `idle-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const doc = { commit, dirty, node: process.version, loadAverage: { start: load0, end: load1 }, args, baseline: baseline?.commit, idle, latency };
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`figures in ${file}\n`);
  } finally {
    baseline?.remove();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
