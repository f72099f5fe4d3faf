// The metrics endpoint: /metrics (Prometheus text format), /healthz (the process answers) and
// /readyz (serve database loaded, every serve listening; 503 and the reason otherwise), on a
// plain node:http server of its own.
//
// What a scrape costs the record path: a render in slices that yield to the event loop, shared
// by every scrape within the cache interval (collectorMetrics.ts), then the same buffers written
// to each scraper's socket. /healthz and /readyz never wait for a render. Connections are bounded
// by closing the oldest idle ones (connectionSlots.ts), and every phase of a request has a
// deadline of seconds, checked every second, not node's default of every 30.
import { CollectorError } from '../errors';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Collector } from '../collector';
import { collectorMetrics, type CollectorMetrics } from './collectorMetrics';
import { ConnectionSlots } from './connectionSlots';
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
/** How often node looks for requests past their header or request deadline. */
const MAX_CHECK_INTERVAL_MS = 1_000;

function answer(res: ServerResponse, status: number, body: string, contentType = TEXT): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Whether the client takes gzip (Prometheus says `Accept-Encoding: gzip`), and does not refuse it with q=0. */
function acceptsGzip(req: IncomingMessage): boolean {
  const accepted = req.headers['accept-encoding'];
  if (typeof accepted !== 'string') return false;
  return accepted.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    return (coding === 'gzip' || coding === 'x-gzip') && !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

/**
 * Writes `chunks` as the socket takes them, then ends: written all at once, sixteen scrapers'
 * copies of a large exposition would be copied to their sockets in one turn of the loop.
 */
function sendChunks(res: ServerResponse, chunks: readonly Buffer[], from = 0): void {
  for (let i = from; i < chunks.length; i += 1) {
    if (!res.write(chunks[i]) && i + 1 < chunks.length) {
      res.once('drain', () => sendChunks(res, chunks, i + 1));
      return;
    }
  }
  res.end();
}

function handler(metrics: CollectorMetrics, slots: ConnectionSlots) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket;
    slots.answering(socket, true);
    res.once('close', () => slots.answering(socket, false));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return answer(res, 405, 'method not allowed\n');
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.scrape().then(
        (rendered) => {
          if (res.destroyed) return;
          const gzip = rendered.gzipped !== undefined && acceptsGzip(req) ? rendered.gzipped : undefined;
          const { chunks, bytes } = gzip ?? rendered;
          res.writeHead(200, {
            'content-type': metrics.contentType,
            'content-length': bytes,
            'cache-control': 'no-store',
            vary: 'accept-encoding',
            ...(gzip === undefined ? {} : { 'content-encoding': 'gzip' }),
          });
          if (req.method === 'HEAD') res.end();
          else sendChunks(res, chunks);
        },
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
  const slots = new ConnectionSlots(options.maxConnections);
  const metrics = collectorMetrics(collector, options, () => slots.size);
  const server: Server = createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(1, Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(options.headersTimeoutMs / 2))),
    },
    handler(metrics, slots),
  );
  // A socket on which nothing moves for this long is closed: above all a scraper that stopped
  // reading, which would hold its socket and the response's buffers for ever.
  server.timeout = options.responseTimeoutMs;
  server.on('connection', (socket) => slots.admit(socket));
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
