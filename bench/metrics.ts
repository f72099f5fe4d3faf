// `npm run bench:metrics [-- --serves 10000] [--scrapers 16] [--seconds 10] [--cache-ms 1000]`:
// what scraping /metrics costs the record path. The endpoint runs on a collector stand-in with
// that many busy serves (harness/manyServes.ts: the metrics read only the collector's streams),
// its stats moving every 100 ms during the scraper loop. Prints (never asserts; target 10 ms):
// - one scrape: bytes, series, time, and the longest event-loop block during it
//   (perf_hooks.monitorEventLoopDelay, 1 ms resolution);
// - `--scrapers` scrapers in a loop for `--seconds`: the longest and p99 loop block, the
//   longest /healthz answer (probed every 100 ms on a new connection), scrapes and renders;
// - the baseline: the same series in a prom-client Registry (how they were rendered before),
//   rendered once, and the loop block it costs.
// Scrapers and probes run in this process and only count bytes; reading a chunk is a turn of
// the loop of its own, so it adds turns, not blocks.
import { get, type Agent } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, Registry } from 'prom-client';
import { manyServes } from './harness/manyServes';
import { serveMetrics } from '../src/metrics';

interface Args {
  readonly serves: number;
  readonly scrapers: number;
  readonly seconds: number;
  readonly cacheMs: number;
}

function parseArgs(argv: readonly string[]): Args {
  const value = (flag: string, otherwise: number): number => {
    const at = argv.indexOf(flag);
    return at < 0 ? otherwise : Number(argv[at + 1]);
  };
  return { serves: value('--serves', 10_000), scrapers: value('--scrapers', 16), seconds: value('--seconds', 10), cacheMs: value('--cache-ms', 1_000) };
}

/** GET `url` on a fresh connection; resolves with the bytes received and the time taken. */
function fetchCounting(url: string, agent: Agent | false = false): Promise<{ status: number; bytes: number; ms: number }> {
  const began = performance.now();
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - began }));
    }).on('error', reject);
  });
}

/** Runs `work` with a fresh event-loop delay histogram; returns its outcome, and the max and p99 block in ms. */
async function withLoopDelay<T>(work: () => Promise<T>): Promise<{ result: T; maxMs: number; p99Ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  // It records the time between two of its timer's turns: the first turn only sets the start.
  await new Promise((r) => setTimeout(r, 5));
  try {
    const result = await work();
    await new Promise((r) => setTimeout(r, 5)); // a block at the very end is sampled only once the loop turns again
    return { result, maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 };
  } finally {
    h.disable();
  }
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const bench = manyServes(args.serves);
  const server = await serveMetrics(bench.collector, { listen: '127.0.0.1:0', scrapeCacheMs: args.cacheMs, maxConnections: args.scrapers + 4 });
  bench.warmUp();
  // The sink's snapshots, as under load. Each is the stand-in's O(serves) object building as
  // well as the metrics' fold, so they run only while scrapers loop, and their own cost is printed.
  let tickMaxMs = 0;
  const tick = (): void => {
    const began = performance.now();
    bench.tick();
    tickMaxMs = Math.max(tickMaxMs, performance.now() - began);
  };
  const url = (path: string): string => `http://${server.address}${path}`;
  console.log(`metrics bench: ${args.serves} serves, node ${process.version}, cache ${args.cacheMs} ms`);

  const one = await withLoopDelay(() => fetchCounting(url('/metrics')));
  const body = await new Promise<string>((resolve) => get(url('/metrics'), { agent: false }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve(text));
  }));
  const series = body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  console.log(`one scrape: ${(one.result.bytes / 1e6).toFixed(1)} MB, ${series} series, ${ms(one.result.ms)}; longest loop block ${ms(one.maxMs)} (target 10 ms)`);

  let scrapes = 0;
  let healthMax = 0;
  let healthFailed = 0;
  const rendersBefore = Number(/metrics_renders_total (\d+)/.exec(body)?.[1] ?? 0);
  const until = Date.now() + args.seconds * 1_000;
  const ticking = setInterval(tick, 100);
  const many = await withLoopDelay(async () => {
    const scraper = async (): Promise<void> => {
      while (Date.now() < until) {
        await fetchCounting(url('/metrics'));
        scrapes += 1;
      }
    };
    const prober = async (): Promise<void> => {
      while (Date.now() < until) {
        try {
          const r = await fetchCounting(url('/healthz'));
          if (r.status !== 200) healthFailed += 1;
          healthMax = Math.max(healthMax, r.ms);
        } catch {
          healthFailed += 1;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await Promise.all([...Array.from({ length: args.scrapers }, scraper), prober()]);
  });
  const last = await new Promise<string>((resolve) => get(url('/metrics'), { agent: false }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve(text));
  }));
  const renders = Number(/metrics_renders_total (\d+)/.exec(last)?.[1] ?? 0) - rendersBefore;
  console.log(
    `${args.scrapers} scrapers for ${args.seconds} s: ${scrapes} scrapes, ${renders} renders; longest loop block ${ms(many.maxMs)}, p99 ${ms(many.p99Ms)}; ` +
      `/healthz longest ${ms(healthMax)}, ${healthFailed} failed; the longest stats snapshot (not a scrape) took ${ms(tickMaxMs)}`,
  );
  clearInterval(ticking);
  await server.close();

  // Baseline: the same per-serve series as prom-client gauges, rendered by its Registry in one go.
  const registry = new Registry();
  const families = new Map<string, Gauge>();
  for (const line of body.split('\n')) {
    const m = /^(pg_logplexcollector_[a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const [, name, labelText, value] = m as unknown as [string, string, string, string];
    const labels = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    let g = families.get(name);
    if (g === undefined) {
      g = new Gauge({ name, help: name, labelNames: Object.keys(labels), registers: [registry] });
      families.set(name, g);
    }
    g.set(labels, Number(value));
  }
  const baseline = await withLoopDelay(async () => {
    const began = performance.now();
    const text = await registry.metrics();
    return { ms: performance.now() - began, bytes: text.length };
  });
  console.log(`baseline (prom-client Registry, same series): render ${ms(baseline.result.ms)}, longest loop block ${ms(baseline.maxMs)}`);
  await bench.collector.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
