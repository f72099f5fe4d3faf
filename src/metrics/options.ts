// Every tunable of the metrics endpoint, with its default, in one place.

import { CollectorError } from '../errors';
export interface MetricsOptions {
  /**
   * `host:port` to serve /metrics, /healthz and /readyz on (`[::1]:9187` for IPv6; port 0 picks
   * a free one). There is no default host on purpose: metrics name every serve, so exposing them
   * beyond the machine is a decision the operator writes down.
   */
  readonly listen: string;
  /**
   * Also export prom-client's process metrics (CPU, RSS, heap, event-loop lag, GC) under their
   * usual names (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, ...). Off by default:
   * the GC observer and the event-loop monitor run all the time, not only when scraped.
   */
  readonly processMetrics: boolean;
  /**
   * Upper bounds (seconds) of the post-latency histogram's buckets. Logplex answers in tens of
   * milliseconds when healthy; the top buckets catch a slow or hung one (headers time out at 30 s).
   */
  readonly postLatencyBuckets: readonly number[];
  /**
   * Connections to the metrics port held at once. A connection beyond it closes the oldest one
   * that is not being answered (idle, or still sending its request), then the oldest being
   * answered: never the newcomer, so a health probe gets in however many sockets others hold.
   */
  readonly maxConnections: number;
  /**
   * A render of /metrics is served to every scrape within this long of its start: scrapers in
   * a loop, or many of them, cost one render per interval. 0: only overlapping scrapes share one.
   */
  readonly scrapeCacheMs: number;
  /** A connection must have sent its request's headers within this long, or is closed (408). */
  readonly headersTimeoutMs: number;
  /** ... and its whole request within this long (at least headersTimeoutMs). */
  readonly requestTimeoutMs: number;
  /** A connection on which nothing moves for this long is closed: a scraper that stopped reading, say. */
  readonly responseTimeoutMs: number;
}

export const DEFAULT_METRICS_OPTIONS: Omit<MetricsOptions, 'listen'> = {
  processMetrics: false,
  postLatencyBuckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  maxConnections: 16,
  scrapeCacheMs: 1_000, // well under any scrape interval: every scrape sees figures at most a second old
  headersTimeoutMs: 5_000, // a scrape's request is one small packet
  requestTimeoutMs: 10_000,
  responseTimeoutMs: 30_000, // no byte taken for this long: Prometheus gave up after its scrape_timeout (10 s by default) anyway
};

export type MetricsOptionsInput = Pick<MetricsOptions, 'listen'> & Partial<Omit<MetricsOptions, 'listen'>>;

/** A listen address the metrics server cannot use. */
export class MetricsOptionsError extends CollectorError {
  readonly code = 'METRICS_OPTIONS_INVALID';
  override readonly name = 'MetricsOptionsError';
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `127.0.0.1:9187`, `[::1]:9187`, `localhost:9187`. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port >= 0 && port <= 65535)) {
    throw new MetricsOptionsError(`metrics listen address ${JSON.stringify(text)}: expected host:port, e.g. 127.0.0.1:9187`);
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

export function resolveMetricsOptions(input: MetricsOptionsInput): MetricsOptions & { readonly address: ListenAddress } {
  const options: MetricsOptions = {
    listen: input.listen,
    processMetrics: input.processMetrics ?? DEFAULT_METRICS_OPTIONS.processMetrics,
    postLatencyBuckets: input.postLatencyBuckets ?? DEFAULT_METRICS_OPTIONS.postLatencyBuckets,
    maxConnections: input.maxConnections ?? DEFAULT_METRICS_OPTIONS.maxConnections,
    scrapeCacheMs: input.scrapeCacheMs ?? DEFAULT_METRICS_OPTIONS.scrapeCacheMs,
    headersTimeoutMs: input.headersTimeoutMs ?? DEFAULT_METRICS_OPTIONS.headersTimeoutMs,
    requestTimeoutMs: input.requestTimeoutMs ?? DEFAULT_METRICS_OPTIONS.requestTimeoutMs,
    responseTimeoutMs: input.responseTimeoutMs ?? DEFAULT_METRICS_OPTIONS.responseTimeoutMs,
  };
  const buckets = options.postLatencyBuckets;
  if (buckets.length === 0 || buckets.some((b, i) => !(b > 0) || (i > 0 && b <= buckets[i - 1]!))) {
    throw new MetricsOptionsError('metrics postLatencyBuckets: expected increasing positive numbers of seconds');
  }
  if (!Number.isInteger(options.maxConnections) || options.maxConnections < 1) {
    throw new MetricsOptionsError(`metrics maxConnections: expected a positive integer, got ${options.maxConnections}`);
  }
  for (const key of ['scrapeCacheMs', 'headersTimeoutMs', 'requestTimeoutMs', 'responseTimeoutMs'] as const) {
    const ms = options[key];
    if (!Number.isInteger(ms) || ms < (key === 'scrapeCacheMs' ? 0 : 1)) throw new MetricsOptionsError(`metrics ${key}: expected a ${key === 'scrapeCacheMs' ? 'non-negative' : 'positive'} integer of milliseconds, got ${ms}`);
  }
  if (options.requestTimeoutMs < options.headersTimeoutMs) {
    throw new MetricsOptionsError(`metrics requestTimeoutMs (${options.requestTimeoutMs}) must be at least headersTimeoutMs (${options.headersTimeoutMs})`);
  }
  return { ...options, address: parseListenAddress(options.listen) };
}
