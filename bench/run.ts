// `npm run bench [-- --only throughput,outage] [--quick] [--no-decode] [--no-calibrate] [--baseline d6c44f6 [--rounds 2]]`: the evidence that the
// collector is fast, lean and never stalls PostgreSQL. Runs the real daemon (dist/,
// built by the npm script) against the stand-in and the emulator, prints one line per scenario
// with PASS/MISS per target, and writes every figure to bench/results/<timestamp>.json.
// Targets are printed, never asserted: the exit code is 0 unless the harness itself failed.
// With --baseline <commit>, that commit is built in a temporary worktree and every scenario runs
// against it and against this tree, interleaved (base, work, base, work, …), with the ratios printed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { IdentityPadding } from '../src/protocol/encode';
import { identityPaddingFor, prepareBaseline, type Baseline } from './harness/baseline';
import { calibrateEmulator, type Calibration } from './harness/calibrate';
import { repoRoot } from './harness/daemon';
import { CPU_RATIO_TARGETS, FULL_SIZES, DEFAULT_HARNESS_OPTIONS, QUICK_SIZES, type HarnessOptions } from './harness/options';
import { SCENARIOS, type ScenarioName, type ScenarioResult } from './harness/scenarios';

interface Args {
  readonly only: readonly ScenarioName[];
  readonly quick: boolean;
  readonly decode: boolean;
  readonly calibrate: boolean; // measure the emulator's own ceiling first
  readonly cpuProf: boolean; // profile the daemon child: .cpuprofile files in bench/results/prof
  readonly collectorFlags: readonly string[]; // e.g. `--collector-flags "--concurrency 16"`
  readonly nodeFlags: readonly string[]; // node/V8 flags for the daemon child, e.g. `--node-flags "--max-semi-space-size=8"`
  readonly baseline: string | undefined; // a commit to compare with, side by side
  readonly rounds: number; // with a baseline: base/work pairs per scenario
  readonly baselinePadding: IdentityPadding | 'auto'; // the emulator's I padding for the baseline; auto = try
}

function parseArgs(argv: readonly string[]): Args {
  const names = Object.keys(SCENARIOS) as ScenarioName[];
  let only: ScenarioName[] = names;
  let quick = false;
  let decode = true;
  let calibrate = true;
  let cpuProf = false;
  let collectorFlags: string[] = [];
  let nodeFlags: string[] = [];
  let baseline: string | undefined;
  let rounds = 2;
  let baselinePadding: Args['baselinePadding'] = 'auto';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--quick') quick = true;
    else if (a === '--no-decode') decode = false;
    else if (a === '--no-calibrate') calibrate = false;
    else if (a === '--cpu-prof') cpuProf = true;
    else if (a === '--collector-flags') collectorFlags = (argv[++i] ?? '').split(/\s+/).filter((f) => f !== '');
    else if (a === '--node-flags') nodeFlags = (argv[++i] ?? '').split(/\s+/).filter((f) => f !== '');
    else if (a === '--baseline') baseline = argv[++i];
    else if (a === '--rounds') rounds = Math.max(1, Number(argv[++i]));
    else if (a === '--baseline-padding') {
      const p = argv[++i];
      if (p !== 'auto' && p !== 'nul' && p !== 'garbage') throw new Error(`--baseline-padding is auto, nul or garbage, not ${p}`);
      baselinePadding = p;
    } else if (a === '--only' || a.startsWith('--only=')) {
      const list = a === '--only' ? (argv[++i] ?? '') : a.slice('--only='.length);
      const wanted = list.split(',').filter((s) => s !== '');
      const unknown = wanted.filter((w) => w !== 'decode' && !names.includes(w as ScenarioName));
      if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${names.join(', ')}, decode`);
      only = names.filter((n) => wanted.includes(n));
      decode = wanted.includes('decode');
    } else throw new Error(`unknown argument ${a}; usage: run.js [--only ${names.join(',')},decode] [--quick] [--no-decode] [--no-calibrate] [--cpu-prof] [--collector-flags "--concurrency 16"] [--node-flags "--max-semi-space-size=8"] [--baseline <commit> [--rounds 2] [--baseline-padding auto|nul|garbage]]`);
  }
  if (baseline !== undefined && !Number.isInteger(rounds)) throw new Error('--rounds takes a whole number');
  return { only, quick, decode, calibrate, cpuProf, collectorFlags, nodeFlags, baseline, rounds, baselinePadding };
}

/** The colleague's decoder micro-benchmark, run as it is (its own process, its own output). */
function runDecodeBench(seconds: number): { lines: string[]; result: unknown } {
  const out = spawnSync(process.execPath, [join(repoRoot(), 'build', 'bench', 'decode.js'), String(seconds)], { encoding: 'utf8' });
  const lines = out.stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1] ?? '';
  let result: unknown = { error: out.stderr || `exit ${out.status}` };
  try {
    result = JSON.parse(last);
  } catch {
    // keep the error
  }
  return { lines: lines.filter((l) => !l.startsWith('{')), result };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sizes = args.quick ? QUICK_SIZES : FULL_SIZES;
  const started = new Date();
  const results: ScenarioResult[] = [];
  const profDir = join(repoRoot(), 'bench', 'results', 'prof');
  const harness: HarnessOptions = {
    ...DEFAULT_HARNESS_OPTIONS,
    daemonNodeArgs: [...args.nodeFlags, ...(args.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])],
    extraCollectorFlags: args.collectorFlags,
  };
  process.stdout.write(`pg-logplexcollector bench: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}${args.quick ? ', --quick' : ''}${args.collectorFlags.length > 0 ? `, collector flags ${args.collectorFlags.join(' ')}` : ''}${args.nodeFlags.length > 0 ? `, node flags ${args.nodeFlags.join(' ')}` : ''}\n`);
  let calibration: Calibration | undefined;
  if (args.calibrate) {
    // The throughput scenario's shape, into a socket that only drains: the most the harness can offer.
    const { connections, recordsPerConnection } = sizes.throughput;
    calibration = await calibrateEmulator(connections, recordsPerConnection);
    const c = calibration;
    process.stdout.write(
      `emulator ceiling: ${Math.round(c.recordsPerSecond)} records/s (${c.connections}×${c.recordsPerConnection} pre-encoded records, ${c.mbPerSecond.toFixed(0)} MB/s, into a socket that only drains; ` +
        `emulator ${(c.emulatorCpuS / c.elapsedS).toFixed(2)} core, encoding ${c.prepareS.toFixed(1)} s before the run)\n`,
    );
  }
  let baseline: Baseline | undefined;
  const comparisons: Comparison[] = [];
  try {
    if (args.baseline !== undefined) {
      baseline = prepareBaseline(repoRoot(), args.baseline);
      const padding = args.baselinePadding === 'auto' ? await identityPaddingFor(baseline.root) : args.baselinePadding;
      process.stdout.write(`baseline ${baseline.label}: built in ${baseline.prepareS.toFixed(1)} s (node_modules ${baseline.modules}), emulator identity padding '${String(padding)}'${args.baselinePadding === 'auto' ? ' (probed)' : ''}; ${args.rounds} round(s), base then work\n`);
      const baseHarness: HarnessOptions = { ...harness, daemonRoot: baseline.root, identityPadding: padding };
      for (const name of args.only) {
        const pairs: { base: ScenarioResult; work: ScenarioResult }[] = [];
        for (let round = 1; round <= args.rounds; round++) {
          const base = await timed(`base ${baseline.label}`, () => SCENARIOS[name](sizes, baseHarness));
          const work = await timed('work   ', () => SCENARIOS[name](sizes, harness));
          results.push(work);
          pairs.push({ base, work });
        }
        const c = compare(name, baseline.label, pairs);
        comparisons.push(c);
        process.stdout.write(`${c.line}\n`);
      }
    } else {
      for (const name of args.only) results.push(await timed('', () => SCENARIOS[name](sizes, harness)));
    }
  } finally {
    baseline?.remove();
  }
  const decode = args.decode ? runDecodeBench(args.quick ? 0.5 : 2) : undefined;
  if (decode !== undefined) for (const l of decode.lines) process.stdout.write(`decode     ${l}\n`);

  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const doc = {
    startedAt: started.toISOString(),
    quick: args.quick,
    collectorFlags: args.collectorFlags,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    sizes,
    emulatorCeiling: calibration,
    scenarios: Object.fromEntries(
      results.map((r) => [r.name, { line: r.line, targets: r.targets, figures: r.figures, rssSamples: r.load.collector.rssSamples, lastStats: r.load.collector.stats }]),
    ),
    decode: decode?.result,
    baseline: baseline === undefined ? undefined : { commit: baseline.commit, rounds: args.rounds, comparisons: comparisons.map(({ line: _line, ...c }) => c) },
  };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  const misses = results.flatMap((r) => r.targets.filter((t) => !t.pass).map((t) => `${r.name}.${t.figure}`));
  process.stdout.write(`${misses.length === 0 ? 'all targets met' : `missed: ${misses.join(', ')}`}; figures in ${file}\n`);
}

async function timed(prefix: string, run: () => Promise<ScenarioResult>): Promise<ScenarioResult> {
  const t0 = performance.now();
  const r = await run();
  process.stdout.write(`${prefix === '' ? '' : `${prefix} `}${r.line}  [${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
  return r;
}

/** One scenario's base/work pairs, summed up: the ratios are per pair, and their median. */
interface Comparison {
  readonly scenario: string;
  readonly line: string;
  readonly cpuRatios: readonly number[]; // work µs/record ÷ base µs/record, per round
  readonly cpuRatioMedian: number;
  readonly base: readonly PairFigures[];
  readonly work: readonly PairFigures[];
}

interface PairFigures {
  readonly cpuMicrosPerRecord: number;
  readonly idleRssMb: number;
  readonly peakRssMb: number;
  readonly lost: number;
  readonly maxBlockedMs: number;
  readonly p99Ms: number;
}

const figuresOf = (r: ScenarioResult): PairFigures => ({
  cpuMicrosPerRecord: r.load.collector.cpuMicrosPerRecord,
  idleRssMb: r.load.collector.idleRssMb,
  peakRssMb: r.load.collector.peakRssMb,
  lost: r.load.ledger.missing,
  maxBlockedMs: r.load.emulator.maxBlockedMs,
  p99Ms: r.load.ledger.latency.p99Ms,
});

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

function compare(scenario: string, label: string, pairs: readonly { base: ScenarioResult; work: ScenarioResult }[]): Comparison {
  const base = pairs.map((p) => figuresOf(p.base));
  const work = pairs.map((p) => figuresOf(p.work));
  const cpuRatios = pairs.map((_, i) => (work[i] as PairFigures).cpuMicrosPerRecord / (base[i] as PairFigures).cpuMicrosPerRecord);
  const cpuRatioMedian = median(cpuRatios);
  const target = CPU_RATIO_TARGETS[scenario];
  const verdict = target === undefined ? '' : `${cpuRatioMedian <= target ? 'PASS' : 'MISS'} (<= ${target}) `;
  const list = (xs: readonly PairFigures[], f: (p: PairFigures) => number, digits: number): string => xs.map((x) => f(x).toFixed(digits)).join('/');
  const line =
    `ratio ${scenario.padEnd(10)} work/${label} CPU per record ${cpuRatioMedian.toFixed(2)}× ${verdict}(${cpuRatios.map((r) => r.toFixed(2)).join(', ')}): ` +
    `µs/rec base ${list(base, (p) => p.cpuMicrosPerRecord, 2)} work ${list(work, (p) => p.cpuMicrosPerRecord, 2)}; ` +
    `idle RSS MB base ${list(base, (p) => p.idleRssMb, 1)} work ${list(work, (p) => p.idleRssMb, 1)}; ` +
    `peak RSS MB base ${list(base, (p) => p.peakRssMb, 1)} work ${list(work, (p) => p.peakRssMb, 1)}; ` +
    `lost base ${list(base, (p) => p.lost, 0)} work ${list(work, (p) => p.lost, 0)}`;
  return { scenario, line, cpuRatios, cpuRatioMedian, base, work };
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
