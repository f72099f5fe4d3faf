// The collector's metrics, fed from what the collector already publishes (tally.ts) and rendered
// off the hot path: in slices that yield to the event loop (exposition.ts), at most once per
// `scrapeCacheMs` however many scrapers ask (renderShare.ts). Serves are labelled by name and
// socket path only: nothing here ever sees a serve's target.
//
// prom-client keeps what is small and fixed in size: the post-latency histogram and, when asked
// for, its process metrics, in a private Registry (embedders' own metrics stay in theirs).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { defer, type Observable, Subscription, switchMap } from '../rx';
import type { Collector, CollectorEvent } from '../collector';
import { packageVersion } from '../packageVersion';
import type { ServeSet } from '../servedb/serve';
import { eachInSteps, inTurns, type Steps } from '../servedb/steps';
import { SERVES_LOADED } from '../servedb/store';
import { renderFamilies } from './exposition';
import { collectorFamilies, PREFIX } from './families';
import { DEFAULT_METRICS_OPTIONS, type MetricsOptions } from './options';
import { observePostLatency } from './postLatency';
import { ReadinessTracker, type Readiness } from './readiness';
import { RenderShare, type Rendered } from './renderShare';
import { CollectorTally } from './tally';

export type { Rendered } from './renderShare';

export interface CollectorMetrics {
  /**
   * prom-client's part only (the post-latency histogram; process metrics when asked for): merge
   * it into yours if you like, but the per-serve families are in `scrape()`, not in it.
   */
  readonly registry: Registry;
  /** The whole exposition, shared by concurrent scrapes and cached for `scrapeCacheMs`. */
  scrape(): Promise<Rendered>;
  /** The Content-Type of what scrape() returns. */
  readonly contentType: string;
  /** What /readyz answers: the serve database is loaded and every serve in force is listening. */
  readiness(): Readiness;
  /** Stops following the collector (it also stops by itself when the collector has stopped). */
  close(): void;
}

type Input = Partial<Pick<MetricsOptions, 'processMetrics' | 'postLatencyBuckets' | 'scrapeCacheMs'>>;

/**
 * Metrics of `collector` (`scrapeConnections`: what the endpoint serving them holds open). Call before `collector.start()`: events are hot, and the ones this
 * counts (listening, serves_accepted, ...) would be missed.
 */
export function collectorMetrics(collector: Collector, input: Input = {}, scrapeConnections: () => number = () => 0): CollectorMetrics {
  const options = { ...DEFAULT_METRICS_OPTIONS, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) };
  const registry = new Registry();
  const readiness = new ReadinessTracker();
  const tally = new CollectorTally();
  let origins = new Set<string>();

  const latency = new Histogram({
    name: `${PREFIX}post_duration_seconds`,
    help: "Time from a POST to logplex being issued to logplex's answer (posts that got one).",
    buckets: [...options.postLatencyBuckets],
    registers: [registry],
  });
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const families = collectorFamilies({
    tally,
    readiness: () => readiness.readiness(),
    isListening: (socket) => readiness.isListening(socket),
    version: packageVersion(),
    renders: () => share.renders,
    scrapeConnections,
  });
  const render = async (): Promise<Rendered> => {
    const chunks = await renderFamilies(families);
    chunks.push(Buffer.from(await registry.metrics())); // small: a histogram, and process metrics
    return { chunks, bytes: total(chunks), gzipped: await gzipChunks(chunks) };
  };
  const share = new RenderShare(render, options.scrapeCacheMs);

  // In steps, a turn of the event loop between them: 10,000 serves at once (URLs parsed, labels
  // rendered, maps built) held the loop for tens of milliseconds, every tenant's socket unread.
  // A set that comes while one is being applied replaces it.
  function* applyServeSet(set: ServeSet): Steps<void> {
    yield* readiness.serveSetInSteps(set);
    yield* tally.serveSetInSteps(set);
    const urls = new Set<string>(); // usually one: serves post to one logplex
    yield* eachInSteps(set, (s) => void urls.add(s.target.url));
    const next = new Set<string>();
    yield* eachInSteps([...urls], (url) => void next.add(new URL(url).origin));
    origins = next;
  }
  const onEvent = (event: CollectorEvent): void => {
    readiness.onEvent(event);
    tally.onEvent(event);
    // A start from serves.loaded alone accepts nothing new: the set in force was accepted when
    // serves.loaded was written, which is what its mtime says.
    if (event.kind === 'started' && tally.acceptedAtSeconds === 0) tally.acceptedAtSeconds = loadedAt(event.serve_db);
  };

  const subscriptions = new Subscription();
  const stopLatency = observePostLatency((origin) => origins.has(origin), (seconds) => latency.observe(seconds));
  subscriptions.add(stopLatency);
  subscriptions.add(collector.serveSet$.pipe(switchMap((set) => inTurns(() => applyServeSet(set), turn))).subscribe());
  subscriptions.add(collector.stats$.subscribe((stats) => tally.onStats(stats)));
  subscriptions.add(collector.event$.subscribe({ next: onEvent, complete: stopLatency }));

  return {
    registry,
    scrape: () => share.get(),
    contentType: registry.contentType,
    readiness: () => readiness.readiness(),
    close: () => {
      subscriptions.unsubscribe();
      share.clear();
    },
  };
}

/** Completes once the event loop has turned: I/O (every tenant's socket) is served first. */
const turn = (): Observable<void> => defer(() => nextTurn());

const total = (chunks: readonly Buffer[]): number => chunks.reduce((n, c) => n + c.length, 0);

/**
 * The exposition gzip-encoded, once per render, on libuv's thread pool: Prometheus asks for gzip,
 * and a tenth of the bytes is a tenth of the copying into each scraper's socket.
 */
function gzipChunks(chunks: readonly Buffer[]): Promise<{ chunks: Buffer[]; bytes: number }> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const gz = createGzip({ level: 1 }); // fast: the text is repetitive, level 1 already shrinks it ~10x
    gz.on('data', (c: Buffer) => out.push(c));
    gz.once('end', () => resolve({ chunks: out, bytes: total(out) }));
    gz.once('error', reject);
    for (const c of chunks) gz.write(c);
    gz.end();
  });
}

/** serves.loaded's mtime as unix seconds, 0 when there is none. Once, at start. */
function loadedAt(serveDbDir: string): number {
  try {
    return statSync(join(serveDbDir, SERVES_LOADED)).mtimeMs / 1000;
  } catch {
    return 0;
  }
}
