// V8 tuned for the daemon's load, from inside the process (the library leaves its host's V8 alone).
// Each setting was found with `npm run bench` (RSS measured from outside, /proc smaps to see
// what it was made of); each has a way out for an operator who sets node's flags himself.
//
// 1. WebAssembly stays on V8's baseline compiler. undici parses HTTP responses with llhttp, built
// to WebAssembly. When a load starts, the parser gets hot and V8 recompiles it with its optimizing
// compiler in the background, which takes some 35 MB of compiler memory for a moment: the single
// biggest item of the daemon's peak RSS (smaps: one malloc arena of a V8 worker thread; the stack
// traces end in ExecuteTurbofanWasmCompilation). The daemon parses a few hundred responses a
// second, so the optimized parser buys nothing measurable.
//
// 2. A cap on V8's young generation. Why: V8 starts each of the young generation's two semi-spaces at 1 MB and doubles them, up to
// 16 MB each, whenever more than their size has survived scavenges since the last doubling. At
// steady load the collector leaves almost nothing alive across a scavenge (records are written
// straight into request bodies), but the start of a load (new connections, code being optimised)
// survives enough to double it to the maximum within a second, and it rarely shrinks back while
// busy: 32 MB of the daemon's RSS, for a heap that holds about 10 MB. 4 MiB costs no CPU per record
// and saves ~25 MB of peak RSS against uncapped (docs/benchmarks.md, *Memory*).
//
// `--max-semi-space-size` would say this, but V8 reads it only when the isolate is created, and an
// npm-installed command cannot portably carry node flags (`env -S` is not in busybox). V8 reads
// `--semi-space-growth-factor` at every doubling, though, and a factor of 1 means "stay". So after
// each GC: growth on while the young generation is below the cap, off once it reaches it. An
// operator's own `--max-semi-space-size` (NODE_OPTIONS or node's command line) wins: we stay out.
//
// 3. A lean start-up: no JIT tiers, and V8 optimizing for size, until the first backend connects.
// Loading ~200 modules makes node's module resolution (path.resolve, normalizeString, ...) hot,
// and V8 optimizes it with TurboFan and compiles it with Sparkplug (and Maglev, on V8 12 and
// later): the compilers' code pages in node's binary and their memory stay resident for the
// daemon's life, ~5 MB of the idle daemon's RSS on Node 20 and ~10 MB on Node 24; optimizing for
// size while the modules load saves ~0.9 MB more (docs/benchmarks.md, *Idle*). Nothing the daemon
// runs before a backend connects needs speed, so this lasts until then, however long: a deadline
// would not do, since the serve database's poll (every 10 s) makes the same path functions hot
// again and brings TurboFan in within a minute or two of idling. From the first connection on,
// V8 runs as it would have, before the first record is read. What stays slower: a start-up or
// reload that applies a huge serve set before any backend has connected.
// Where node can replace its own process (process.execve: Node 22.15, 23.11 and later), the
// command starts again at once with these flags on node's command line: set from inside they come
// too late for node's own bootstrap, which on Node 24 already has Maglev compile its path
// functions before our first line runs (~1.8 MB of the idle daemon's RSS). Same pid, same stdio,
// the operator's node arguments and environment kept.
//
// 4. Start-up's garbage given back once start-up is quiet. Applying a serve set allocates; V8's
// memory reducer would give the pages back (and shrink the young generation) only 8 s after the
// last mark-compact, and later again while it still sees allocation. One memory-reducing full GC
// once start-up has gone quiet, before any backend connects, does it then: ~2 MB of the idle
// daemon's RSS on Node 24, in ~20-40 ms nobody waits for. V8 11 (Node 20) has no such GC for
// scripts to ask for.
import type { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** True when the operator set node's WebAssembly compiler flags himself. */
export function wasmTieringByOperator(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const flag = /--(no-)?(wasm[-_]tier[-_]up|wasm[-_]dynamic[-_]tiering|liftoff)/;
  return execArgv.some((a) => flag.test(a)) || flag.test(nodeOptions ?? '');
}

/** Keeps WebAssembly on the baseline compiler (Liftoff). Must run before undici compiles llhttp. */
export function keepWasmOnBaseline(): void {
  setFlagsFromString('--no-wasm-dynamic-tiering');
  setFlagsFromString('--no-wasm-tier-up');
}

/** What the command calls as the daemon moves from start-up to load (bin/). */
export interface DaemonTuning {
  // At the first backend's connection: the lean start-up ends (JIT tiers back on, the young
  // generation free to grow to its cap). Calling it again does nothing.
  readonly connected: () => void;
  // Once start-up has gone quiet, no backend connected yet: what start-up left is given back.
  readonly startUpQuiet: () => void;
}

/**
 * Every tuning, each unless the operator chose otherwise; first thing in bin/. May not return:
 * where node can, the process is replaced by node started with the lean flags (relaunchWith),
 * which runs bin/ again from its first line.
 */
export function tuneV8ForDaemon(execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): DaemonTuning {
  const marked = takeRelaunchMark(env);
  // The relaunch put ours first; a mark without them (set by hand) counts for nothing.
  const flags = leanFlags();
  const ours = marked === flags.length && flags.every((flag, i) => execArgv[i] === flag) ? marked : 0;
  const operatorArgs = execArgv.slice(ours);
  const nodeOptions = env.NODE_OPTIONS;
  const lean = !jitTiersByOperator(operatorArgs, nodeOptions);
  if (lean && ours === 0) relaunchWith(flags);
  if (!wasmTieringByOperator(operatorArgs, nodeOptions)) keepWasmOnBaseline();
  const young = sizedByOperator(operatorArgs, nodeOptions) ? undefined : capYoungGeneration(DEFAULT_SEMI_SPACE_CAP_BYTES, true);
  const resumeJit = lean ? leanStartUp(defaultJitTiers(), ours > 0) : undefined;
  let quietDone = false;
  return {
    connected: () => {
      young?.release();
      resumeJit?.();
    },
    startUpQuiet: () => {
      if (quietDone || !lastResortGcAvailable()) return;
      quietDone = true;
      collectStartUpGarbage();
    },
  };
}

/**
 * Holds, for the relaunched process, how many node arguments the relaunch put before the
 * operator's. Outside the PG_LOGPLEXCOLLECTOR_ names (flags.ts): it is no setting of the operator's.
 */
export const RELAUNCH_ENV = '_PG_LOGPLEXCOLLECTOR_RELAUNCH_ARGS';

/** The count of node arguments a relaunch put first (0 when this process was not relaunched); the mark is removed. */
export function takeRelaunchMark(env: NodeJS.ProcessEnv): number {
  const mark = env[RELAUNCH_ENV];
  if (mark === undefined) return 0;
  delete env[RELAUNCH_ENV]; // nothing the daemon starts should think it was relaunched
  const n = Number(mark);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** The lean start-up's flags, as node's command line takes them. */
export function leanFlags(tiers: readonly string[] = defaultJitTiers()): string[] {
  return [...tiers.map((tier) => `--no-${tier}`), '--optimize-for-size'];
}

type Execve = (file: string, args: readonly string[], env: NodeJS.ProcessEnv) => never;

/**
 * Replaces this process (same pid, stdio kept, nothing else) with node started with `flags`
 * before the operator's own node arguments, the same script and arguments, and the environment
 * marked (RELAUNCH_ENV). Returns only when it did not: node without process.execve (before 22.15),
 * or execve failed, in which case the process goes on as it was.
 */
export function relaunchWith(flags: readonly string[], proc: NodeJS.Process = process): void {
  const execve = (proc as NodeJS.Process & { readonly execve?: Execve }).execve;
  if (typeof execve !== 'function' || proc.argv[1] === undefined) return;
  try {
    execve.call(proc, proc.execPath, [proc.execPath, ...flags, ...proc.execArgv, ...proc.argv.slice(1)], { ...proc.env, [RELAUNCH_ENV]: String(flags.length) });
  } catch {
    // e.g. node's binary replaced by an upgrade since it started: the in-process lean start-up still holds
  }
}

/**
 * True when `gc()` takes the options collectStartUpGarbage() gives it: V8 12 (Node 22) and later.
 * V8 11 (Node 20) makes a scavenge of them, and a plain full GC there gave nothing back (measured).
 */
export function lastResortGcAvailable(v8Version: string = process.versions.v8): boolean {
  return Number(v8Version.split('.')[0]) >= 12;
}

/**
 * One full garbage collection that also gives memory back to the system and shrinks the young
 * generation (V8's "last resort" collection, the one its memory reducer makes). V8 offers it to
 * scripts only through --expose-gc, which installs `gc` in contexts made after it is set: one
 * context is made for it and the flag set back, so that no other context gets it.
 */
export function collectStartUpGarbage(): void {
  setFlagsFromString('--expose-gc');
  let gc: unknown;
  try {
    // Loaded here: node:vm is no part of an idle daemon on runtimes that never ask for this GC.
    gc = (require('node:vm') as typeof import('node:vm')).runInNewContext('gc');
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  if (typeof gc === 'function') (gc as (options: { type: string; execution: string; flavor: string }) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** True when the operator set node's JIT tiers or its size optimization himself. */
export function jitTiersByOperator(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const flag = /--(no-)?(turbofan|opt|maglev|sparkplug|always-sparkplug|jitless|lite-mode|optimize-for-size)(?![\w-])/;
  return execArgv.some((a) => flag.test(a)) || flag.test(nodeOptions ?? '');
}

/**
 * The JIT tiers V8 runs by default on this runtime: Maglev is on by default from V8 12 (Node 22)
 * on x64 and arm64, off (and experimental) before.
 */
export function defaultJitTiers(v8Version: string = process.versions.v8, arch: string = process.arch): readonly string[] {
  const maglev = Number(v8Version.split('.')[0]) >= 12 && (arch === 'x64' || arch === 'arm64');
  return maglev ? ['turbofan', 'maglev', 'sparkplug'] : ['turbofan', 'sparkplug'];
}

/**
 * Turns V8's JIT tiers off and its size optimization on until the returned function is called,
 * then back to this runtime's defaults (`alreadyLean`: node's command line turned them off).
 * Functions that got hot meanwhile are compiled at their next calls.
 */
export function leanStartUp(tiers: readonly string[] = defaultJitTiers(), alreadyLean = false): () => void {
  if (!alreadyLean) for (const flag of leanFlags(tiers)) setFlagsFromString(flag);
  let lean = true;
  return () => {
    if (!lean) return;
    lean = false;
    for (const tier of tiers) setFlagsFromString(`--${tier}`);
    setFlagsFromString('--no-optimize-for-size');
  };
}

/** Bytes of one semi-space the daemon lets V8 grow to (both together take twice this). */
export const DEFAULT_SEMI_SPACE_CAP_BYTES = 4 * 1024 * 1024;

const V8_DEFAULT_GROWTH_FACTOR = 2;

/** Bytes both semi-spaces take now (what V8 calls new_space's size). */
function youngGenerationBytes(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_size;
  return 0;
}

/** True when the operator sized the young generation with node's own flags. */
export function sizedByOperator(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const flag = /--(max|min)[-_]semi[-_]space[-_]size/;
  return execArgv.some((a) => flag.test(a)) || flag.test(nodeOptions ?? '');
}

/** What capYoungGeneration() returns: call it to stop watching; `release()` ends a start-up hold. */
export interface YoungGenerationCap {
  (): void;
  readonly release: () => void;
}

/**
 * Keeps each semi-space at `semiSpaceBytes` or less (GC observers run after the GC, so on a
 * busy machine one more doubling may slip through). Called first thing (bin/), before modules
 * load: loading them alone would double the young generation twice, and GC observers cannot run
 * until it is done, so growth starts off and the first GC after start-up turns it on if there is
 * room. `held`: growth stays off until `release()` (the daemon's first connection), so that the
 * scavenges of a start-up (100 serves' pipelines being built) do not double the young generation
 * of a daemon that then idles (2 MB of its idle RSS), and nothing watches GCs until then. The
 * returned function stops watching and gives V8 its default back.
 */
export function capYoungGeneration(semiSpaceBytes: number = DEFAULT_SEMI_SPACE_CAP_BYTES, held = false): YoungGenerationCap {
  let growing = false;
  let observer: PerformanceObserver | undefined;
  setFlagsFromString('--semi-space-growth-factor=1');
  const steer = (): void => {
    const below = youngGenerationBytes() < 2 * semiSpaceBytes;
    if (below === growing) return;
    growing = below;
    setFlagsFromString(`--semi-space-growth-factor=${below ? V8_DEFAULT_GROWTH_FACTOR : 1}`);
  };
  const watch = (): void => {
    if (observer !== undefined) return;
    // Loaded here rather than with this module: perf_hooks is ~0.3 MB that a daemon still idle
    // since start-up, growth held off, has no use for.
    const perfHooks = require('node:perf_hooks') as typeof import('node:perf_hooks');
    observer = new perfHooks.PerformanceObserver(steer);
    observer.observe({ entryTypes: ['gc'] });
  };
  if (!held) watch();
  const stop = (): void => {
    observer?.disconnect();
    if (!growing) setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
  };
  // From release() on, the next GC turns growth on if there is room.
  return Object.assign(stop, { release: watch });
}
