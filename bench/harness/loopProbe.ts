// Preloaded into the daemon by bench/serveSet.ts (`node --require …/loopProbe.js`): how long the
// daemon's event loop was held, seen from inside, since that is what every tenant's socket waits
// on. A 5 ms timer notes how late it fires; every 250 ms the worst lateness since the last report
// goes to stderr as one logfmt line (`event=loop_probe max_block_ms=…`), which the harness parses
// like the daemon's own. Not shipped: the daemon runs unchanged without it.
//
// On a loaded machine most of that lateness is time the thread waited for a CPU, which no code
// of the daemon can help; so the line also says the longest the main thread was on a CPU between
// two turns of the timer (`max_block_cpu_ms`, /proc/thread-self/schedstat: the daemon's own work,
// an upper bound by a turn of the timer), the same with the garbage collector's pauses taken out
// (`max_block_cpu_outside_gc_ms`: the daemon's own slices of work) and the longest pause (`max_gc_ms`).
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

const TICK_MS = 5;
const REPORT_MS = 250;

/** The main thread's time on a CPU so far, in ms; NaN where the kernel does not say. */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

let last = performance.now();
let lastCpu = threadCpuMs();
let worst = 0;
let worstCpu = 0;
let worstGc = 0;
let spans: { readonly cpu: number; readonly from: number; readonly to: number }[] = []; // since the last report
let pauses: { readonly from: number; readonly to: number }[] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    worstGc = Math.max(worstGc, entry.duration);
    pauses.push({ from: entry.startTime, to: entry.startTime + entry.duration });
  }
}).observe({ entryTypes: ['gc'] });
const gcIn = (span: { readonly from: number; readonly to: number }): number =>
  pauses.reduce((sum, p) => sum + Math.max(0, Math.min(p.to, span.to) - Math.max(p.from, span.from)), 0);
setInterval(() => {
  const now = performance.now();
  const cpu = threadCpuMs();
  worst = Math.max(worst, now - last - TICK_MS);
  worstCpu = Math.max(worstCpu, cpu - lastCpu);
  spans.push({ cpu: cpu - lastCpu, from: last, to: now });
  last = now;
  lastCpu = cpu;
}, TICK_MS).unref();
setInterval(() => {
  const outsideGc = spans.reduce((m, span) => Math.max(m, span.cpu - gcIn(span)), 0);
  process.stderr.write(
    `event=loop_probe level=debug max_block_ms=${worst.toFixed(1)} max_block_cpu_ms=${worstCpu.toFixed(1)} max_block_cpu_outside_gc_ms=${outsideGc.toFixed(1)} max_gc_ms=${worstGc.toFixed(1)}\n`,
  );
  spans = [];
  pauses = pauses.filter((p) => p.to > performance.now() - REPORT_MS); // one may still overlap the next span
  worst = 0;
  worstCpu = 0;
  worstGc = 0;
}, REPORT_MS).unref();
