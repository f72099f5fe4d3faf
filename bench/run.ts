// `npm run bench [-- --only throughput,outage] [--quick] [--no-decode] [--no-calibrate]`: the evidence that the
// collector is fast, lean and never stalls PostgreSQL (issue #7). Runs the real daemon (dist/,
// built by the npm script) against the stand-in and the emulator, prints one line per scenario
// with PASS/MISS per target, and writes every figure to bench/results/<timestamp>.json.
// Targets are printed, never asserted: the exit code is 0 unless the harness itself failed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { calibrateEmulator, type Calibration } from './harness/calibrate';
import { repoRoot } from './harness/daemon';
import { FULL_SIZES, HARNESS_DEFAULTS, QUICK_SIZES, type HarnessOptions } from './harness/options';
import { SCENARIOS, type ScenarioName, type ScenarioResult } from './harness/scenarios';

interface Args {
  readonly only: readonly ScenarioName[];
  readonly quick: boolean;
  readonly decode: boolean;
  readonly calibrate: boolean; // measure the emulator's own ceiling first
  readonly cpuProf: boolean; // profile the daemon child: .cpuprofile files in bench/results/prof
  readonly collectorFlags: readonly string[]; // e.g. `--collector-flags "--concurrency 16"`
  readonly nodeFlags: readonly string[]; // node/V8 flags for the daemon child, e.g. `--node-flags "--max-semi-space-size=8"`
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
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--quick') quick = true;
    else if (a === '--no-decode') decode = false;
    else if (a === '--no-calibrate') calibrate = false;
    else if (a === '--cpu-prof') cpuProf = true;
    else if (a === '--collector-flags') collectorFlags = (argv[++i] ?? '').split(/\s+/).filter((f) => f !== '');
    else if (a === '--node-flags') nodeFlags = (argv[++i] ?? '').split(/\s+/).filter((f) => f !== '');
    else if (a === '--only' || a.startsWith('--only=')) {
      const list = a === '--only' ? (argv[++i] ?? '') : a.slice('--only='.length);
      const wanted = list.split(',').filter((s) => s !== '');
      const unknown = wanted.filter((w) => w !== 'decode' && !names.includes(w as ScenarioName));
      if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${names.join(', ')}, decode`);
      only = names.filter((n) => wanted.includes(n));
      decode = wanted.includes('decode');
    } else throw new Error(`unknown argument ${a}; usage: run.js [--only ${names.join(',')},decode] [--quick] [--no-decode] [--no-calibrate] [--cpu-prof] [--collector-flags "--concurrency 16"] [--node-flags "--max-semi-space-size=8"]`);
  }
  return { only, quick, decode, calibrate, cpuProf, collectorFlags, nodeFlags };
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
    ...HARNESS_DEFAULTS,
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
  for (const name of args.only) {
    const t0 = performance.now();
    const r = await SCENARIOS[name](sizes, harness);
    results.push(r);
    process.stdout.write(`${r.line}  [${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
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
  };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  const misses = results.flatMap((r) => r.targets.filter((t) => !t.pass).map((t) => `${r.name}.${t.figure}`));
  process.stdout.write(`${misses.length === 0 ? 'all targets met' : `missed: ${misses.join(', ')}`}; figures in ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
