// What a scrape costs the rest of the process, as behaviour (the figures are in bench/metrics.ts):
// the render yields to the event loop between slices, concurrent scrapes share one render, and a
// scraper that stops reading neither holds up the others nor keeps its socket.
import { get, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { manyServes, type ManyServes } from '../../bench/harness/manyServes';
import { collectorMetrics, serveMetrics, type CollectorMetrics, type MetricsServer } from '../../src/metrics';
import { BehaviorSubject, Subject } from 'rxjs';
import type { Collector, CollectorEvent, CollectorStats } from '../../src/collector';
import { Secret } from '../../src/secret';
import type { ServeSet } from '../../src/servedb/serve';
import { SERVES_PER_STEP } from '../../src/servedb/steps';
import { makeServe } from '../source/support';
import { parsePrometheusText, sumOf } from '../support/promText';
import { httpGet, waitUntil } from './support';

const P = 'pg_logplexcollector_';
const text = (chunks: readonly Buffer[]): string => Buffer.concat(chunks).toString('utf8');

describe('scraping many serves', () => {
  let bench: ManyServes;
  let metrics: CollectorMetrics | undefined;
  let server: MetricsServer | undefined;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    metrics?.close();
    await server?.close();
    metrics = undefined;
    server = undefined;
    await bench.collector.stop();
  });

  it('renders 10,000 serves in slices, letting the event loop run between them', async () => {
    bench = manyServes(10_000);
    metrics = collectorMetrics(bench.collector, { scrapeCacheMs: 0 });
    bench.warmUp();
    let turns = 0;
    let rendering = true;
    const spin = (): void => {
      if (!rendering) return;
      turns += 1;
      setImmediate(spin);
    };
    setImmediate(spin);
    const rendered = await metrics.scrape();
    rendering = false;
    // Every slice gives the loop a turn: sockets, timers and posts run while a scrape renders.
    expect(turns).toBeGreaterThanOrEqual(20);
    const families = parsePrometheusText(text(rendered.chunks));
    expect(rendered.bytes).toBe(Buffer.concat(rendered.chunks).length);
    expect(families.get(`${P}records_received_total`)?.samples).toHaveLength(10_000);
    expect(sumOf(families, `${P}connections`)).toBe(10_000);
    expect(sumOf(families, `${P}posts_total`, { status: '503' })).toBe(500);
    expect(sumOf(families, `${P}protocol_errors_total`, { code: 'LOGFEBE_HANDSHAKE_TIMEOUT' })).toBe(100);
    expect(families.get(`${P}serve_spool_batches`)?.samples).toHaveLength(200);
  }, 60_000);

  it('serves concurrent scrapes from one render, and scrapes within the cache interval from it too', async () => {
    bench = manyServes(2_000);
    server = await serveMetrics(bench.collector, { listen: '127.0.0.1:0', scrapeCacheMs: 60_000 });
    bench.warmUp();
    const bodies = await Promise.all(Array.from({ length: 8 }, () => httpGet(`http://${server!.address}/metrics`)));
    expect(bodies.map((b) => b.status)).toEqual(Array(8).fill(200));
    expect(new Set(bodies.map((b) => b.body)).size).toBe(1);
    expect(sumOf(parsePrometheusText(bodies[0]!.body), `${P}metrics_renders_total`)).toBe(1);
    bench.tick();
    const later = await httpGet(`http://${server.address}/metrics`);
    expect(later.body).toBe(bodies[0]!.body); // within the interval: the same render
  });

  it('sends the render gzip-encoded to a scraper that asks for it, as Prometheus does', async () => {
    bench = manyServes(500);
    server = await serveMetrics(bench.collector, { listen: '127.0.0.1:0', scrapeCacheMs: 60_000 });
    bench.warmUp();
    const raw = (encoding: string): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> =>
      new Promise((resolve, reject) =>
        get(`http://${server!.address}/metrics`, { agent: false, headers: { 'accept-encoding': encoding } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(parts) }));
        }).on('error', reject),
      );
    const plain = await raw('identity');
    const zipped = await raw('gzip, deflate');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(zipped.body.length * 5).toBeLessThan(plain.body.length);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect((await raw('gzip;q=0')).headers['content-encoding']).toBeUndefined();
  });

  it('renders again for a scrape after the interval, with the figures of then', async () => {
    bench = manyServes(10);
    server = await serveMetrics(bench.collector, { listen: '127.0.0.1:0', scrapeCacheMs: 0 });
    bench.warmUp();
    const first = parsePrometheusText((await httpGet(`http://${server.address}/metrics`)).body);
    bench.tick();
    const second = parsePrometheusText((await httpGet(`http://${server.address}/metrics`)).body);
    expect(sumOf(second, `${P}metrics_renders_total`)).toBe(2);
    expect(sumOf(second, `${P}records_received_total`)).toBeGreaterThan(sumOf(first, `${P}records_received_total`));
  });

  it('answers other scrapes and probes while a scraper does not read, and cuts that one off once nothing moved for the response timeout', async () => {
    bench = manyServes(10_000); // over 10 MB: more than the socket buffers on both sides take
    server = await serveMetrics(bench.collector, { listen: '127.0.0.1:0', responseTimeoutMs: 2_000, maxConnections: 4, scrapeCacheMs: 0 });
    bench.warmUp();
    const [host, port] = [server.address.split(':')[0]!, Number(server.address.split(':')[1])];
    const stuck = connect(port, host);
    sockets.push(stuck);
    stuck.on('error', () => undefined);
    let began = false;
    stuck.once('data', () => {
      began = true;
      stuck.pause(); // reads no more: the server's writes back up
    });
    stuck.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('the stuck scrape to begin', () => began);

    const others = await Promise.all([httpGet(`http://${server.address}/metrics`), httpGet(`http://${server.address}/healthz`), httpGet(`http://${server.address}/readyz`)]);
    expect(others.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(parsePrometheusText(others[0]!.body).get(`${P}records_received_total`)?.samples).toHaveLength(10_000);
    // Its response never finished: once past the timeout the server closed it, and only the
    // scrape asking is left (a paused client would not notice the close itself).
    const open = async (): Promise<number> => {
      const res = await new Promise<string>((resolve, reject) =>
        get(`http://${server!.address}/metrics`, { agent: false }, (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (body += c));
          r.on('end', () => resolve(body));
        }).on('error', reject),
      );
      return sumOf(parsePrometheusText(res), `${P}metrics_connections`);
    };
    await waitUntil('the stuck scraper cut off', async () => (await open()) === 1, 40_000);
  }, 60_000);
});

describe('a large serve set reaching the metrics', () => {
  const serves = (count: number, prefix: string): ServeSet =>
    Array.from({ length: count }, (_, i) => ({ ...makeServe(`/run/${prefix}-${i}.sock`, `db-${i}`, 't', `${prefix}_${i}`), target: { url: `https://logplex-${i % 3}.example.com/logs`, user: 'u', token: new Secret('t') } }));
  const gauge = async (metrics: CollectorMetrics, name: string): Promise<number> => sumOf(parsePrometheusText(text((await metrics.scrape()).chunks)), `${P}${name}`);

  let serveSet$: BehaviorSubject<ServeSet>;
  let event$: Subject<CollectorEvent>;
  let metrics: CollectorMetrics;
  beforeEach(() => {
    serveSet$ = new BehaviorSubject<ServeSet>([]);
    event$ = new Subject<CollectorEvent>();
    const collector: Collector = {
      record$: new Subject<never>(),
      event$,
      stats$: new Subject<CollectorStats>(),
      serveSet$,
      start: () => Promise.resolve(),
      reload: () => undefined,
      stop: () => Promise.resolve(),
    };
    metrics = collectorMetrics(collector, { scrapeCacheMs: 0 });
  });
  afterEach(() => metrics.close());

  it('is applied a few hundred serves a turn of the event loop, not 10,000 in one', async () => {
    serveSet$.next(serves(10_000, 'a'));
    // The render's first slice runs now, in this turn: what it counts is what was applied in it.
    const first = await gauge(metrics, 'serves');
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(SERVES_PER_STEP);
    await waitUntil('the whole set applied', async () => (await gauge(metrics, 'serves')) === 10_000);
  });

  it('counts what a serve reports before its step is reached, and drops serves gone once applied', async () => {
    serveSet$.next(serves(3_000, 'a'));
    await waitUntil('the first set applied', async () => (await gauge(metrics, 'serves')) === 3_000);
    const next = serves(5_000, 'b');
    serveSet$.next(next);
    const last = next[next.length - 1]!;
    event$.next({ kind: 'connect', level: 'info', serve: last.name, socket: last.socketPath, identity: last.identity, server_version: '15' });
    await waitUntil('the second set applied', async () => (await gauge(metrics, 'serves')) === 5_000);
    const families = parsePrometheusText(text((await metrics.scrape()).chunks));
    expect(sumOf(families, `${P}connections_accepted_total`, { socket: last.socketPath, serve: last.name! })).toBe(1);
    expect(families.get(`${P}connections`)?.samples.filter((s) => s.labels.socket!.startsWith('/run/a-'))).toEqual([]);
  });

  it('applies only the latest of sets that come while one is being applied', async () => {
    serveSet$.next(serves(10_000, 'a'));
    serveSet$.next(serves(10, 'b'));
    await waitUntil('the latest set applied', async () => (await gauge(metrics, 'serves')) === 10);
    const families = parsePrometheusText(text((await metrics.scrape()).chunks));
    expect(families.get(`${P}serve_listening`)?.samples.map((s) => s.labels.serve)).toEqual(Array.from({ length: 10 }, (_, i) => `b_${i}`));
  });
});
