// The metrics endpoint: /metrics (Prometheus text format), /healthz (the process answers) and
// /readyz (serve database loaded, every serve listening; 503 and the reason otherwise), on a
// plain node:http server of its own. Scrapes read counters the collector already keeps
// (collectorMetrics.ts): a scrape does no work on the record path.
import { CollectorError } from '../errors';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Collector } from '../collector';
import { collectorMetrics, type CollectorMetrics } from './collectorMetrics';
import { resolveMetricsOptions, type MetricsOptionsInput } from './options';

export interface MetricsServer extends CollectorMetrics {
  /** Where it listens, e.g. `127.0.0.1:9187` (the real port when asked for port 0). */
  readonly address: string;
  /** Stops listening and following the collector; done by itself once the collector has stopped. */
  close(): Promise<void>;
}

/** Errors that keep the metrics endpoint from listening, with a stable code. */
export class MetricsListenError extends CollectorError {
  readonly code = 'METRICS_LISTEN_FAILED';
  override readonly name = 'MetricsListenError';
}

const TEXT = 'text/plain; charset=utf-8';

function answer(res: ServerResponse, status: number, body: string, contentType = TEXT): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function handler(metrics: CollectorMetrics) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return answer(res, 405, 'method not allowed\n');
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => answer(res, 200, text, metrics.registry.contentType),
        (error: unknown) => answer(res, 500, `cannot collect metrics: ${error instanceof Error ? error.message : String(error)}\n`),
      );
    } else if (path === '/healthz') {
      answer(res, 200, 'ok\n');
    } else if (path === '/readyz') {
      const r = metrics.readiness();
      if (r.ready) answer(res, 200, 'ready\n');
      else answer(res, 503, `not ready: ${r.reason}\n`);
    } else {
      answer(res, 404, 'not found: try /metrics, /healthz or /readyz\n');
    }
  };
}

/**
 * Serves `collector`'s metrics and health on `options.listen`. Call it before
 * `collector.start()`, so that /readyz answers (503) while the serve database loads and no event
 * is missed. Rejects with MetricsListenError when the address cannot be listened on.
 */
export async function serveMetrics(collector: Collector, input: MetricsOptionsInput): Promise<MetricsServer> {
  const options = resolveMetricsOptions(input);
  const metrics = collectorMetrics(collector, options);
  const server: Server = createServer(handler(metrics));
  server.maxConnections = options.maxConnections;
  server.requestTimeout = 10_000; // a scrape is one small request; a slow-loris one is cut off
  server.headersTimeout = 5_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.address.host, port: options.address.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    metrics.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new MetricsListenError(`cannot listen for metrics on ${options.listen}: ${reason}`, { cause: error });
  }
  server.on('error', () => undefined); // after listening, errors belong to single connections
  const bound = server.address() as AddressInfo;
  const address = bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      metrics.close();
      server.close(() => resolve());
      server.closeAllConnections(); // keep-alive scrapers must not hold the process open
    });
    return closing;
  };
  // Once the collector has stopped there is nothing left to report, and an open server would keep
  // the process alive.
  collector.event$.subscribe({ complete: () => void close() });

  return { ...metrics, address, close };
}
