// V8 tuned for the daemon's load, from inside the process (the library leaves its host's V8 alone).
// Both settings were found with `npm run bench` (RSS measured from outside, /proc smaps to see
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

/**
 * Every tuning, each unless the operator chose otherwise; first thing in bin/. Returns the
 * function to call at the first backend's connection: it ends the lean start-up (JIT tiers back
 * on, the young generation free to grow to its cap); calling it again does nothing.
 */
export function tuneV8ForDaemon(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env.NODE_OPTIONS): () => void {
  if (!wasmTieringByOperator(execArgv, nodeOptions)) keepWasmOnBaseline();
  const young = sizedByOperator(execArgv, nodeOptions) ? undefined : capYoungGeneration(DEFAULT_SEMI_SPACE_CAP_BYTES, true);
  const resumeJit = jitTiersByOperator(execArgv, nodeOptions) ? undefined : leanStartUp();
  return () => {
    young?.release();
    resumeJit?.();
  };
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
 * then back to this runtime's defaults. Functions that got hot meanwhile are compiled at their
 * next calls.
 */
export function leanStartUp(tiers: readonly string[] = defaultJitTiers()): () => void {
  for (const tier of tiers) setFlagsFromString(`--no-${tier}`);
  setFlagsFromString('--optimize-for-size');
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
