// The metrics endpoint as Prometheus sees it: scraped over real HTTP, parsed by a strict
// text-format parser (spec/support/promText.ts), and checked against the collector's own stats
// after real records went through real sockets to the logplex stand-in.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { createCollector, type Collector, type CollectorEvent, type CollectorStats } from '../../src';
import { serveMetrics, type MetricsServer } from '../../src/metrics';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import { startLogplexStandIn, type LogplexStandIn } from '../../src/tools/logplexStandIn';
import { FakeBackend } from '../source/support';
import { writeServes } from '../support/daemonBed';
import { parsePrometheusText, sumOf, type MetricFamily } from '../support/promText';
import { httpGet, waitUntil } from './support';

const TOKEN_BLUE = 't.5ca1ab1e-0000-4000-8000-00000000b1ue';
const TOKEN_RED = 't.5ca1ab1e-0000-4000-8000-0000000000ed';
const P = 'pg_logplexcollector_';

describe('metrics and health over HTTP', () => {
  let tmp: string;
  let standIn: LogplexStandIn;
  let collector: Collector | undefined;
  let metrics: MetricsServer | undefined;
  let stats: CollectorStats;
  let events: CollectorEvent[];

  beforeEach(async () => {
    tmp = mkdtempSync('/tmp/plc-m-');
    standIn = await startLogplexStandIn();
    events = [];
  });
  afterEach(async () => {
    await collector?.stop();
    await metrics?.close();
    collector = undefined;
    metrics = undefined;
    await standIn.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A collector with its metrics server, not started. */
  async function setUp(options: { laneIdleMs?: number; listenRetryMs?: number; maxConnectionsPerServe?: number; spoolDir?: string } = {}): Promise<{ c: Collector; m: MetricsServer }> {
    const c = createCollector({
      serveDbDir: tmp,
      logplexUrl: standIn.url,
      sink: { flushIntervalMs: 20, laneIdleMs: options.laneIdleMs, retry: { baseDelayMs: 10 } },
      source: { listenRetryMs: options.listenRetryMs, maxConnectionsPerServe: options.maxConnectionsPerServe },
      ...(options.spoolDir === undefined ? {} : { spool: { dir: options.spoolDir, minFreeBytes: 0, minFreeRatio: 0 } }),
    });
    collector = c;
    c.stats$.subscribe((s) => (stats = s));
    c.event$.subscribe((e) => events.push(e));
    const m = await serveMetrics(c, { listen: '127.0.0.1:0', scrapeCacheMs: 0 }); // each scrape renders afresh
    metrics = m;
    return { c, m };
  }

  const scrape = async (m: MetricsServer): Promise<{ text: string; families: Map<string, MetricFamily> }> => {
    const res = await httpGet(`http://${m.address}/metrics`);
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    return { text: res.body, families: parsePrometheusText(res.body) };
  };
  const settled = (c: Collector, recordsIn: number): Promise<CollectorStats> =>
    firstValueFrom(c.stats$.pipe(filter((s) => s.recordsIn === recordsIn && s.queuedBytes === 0 && s.connections === 0)));

  it('counts what the collector counts: records, frames, posts by status, latency, connections, serve db; never a token', async () => {
    const blue = join(tmp, 'blue.sock');
    const red = join(tmp, 'red.sock');
    writeServes(tmp, [
      { i: 'blue-db', t: TOKEN_BLUE, p: blue, name: 'BLUE' },
      { i: 'red-db', t: TOKEN_RED, p: red },
    ]);
    const { c, m } = await setUp();

    const before = await httpGet(`http://${m.address}/readyz`);
    expect(before).toMatchObject({ status: 503, body: 'not ready: serve database not loaded yet\n' });
    expect(await httpGet(`http://${m.address}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });

    const startedAt = Date.now() / 1000;
    await c.start();
    await waitUntil('ready', async () => (await httpGet(`http://${m.address}/readyz`)).status === 200);

    // One connection held open, to see it counted.
    const held = await FakeBackend.open(blue, 'blue-db');
    await waitUntil('the connection counted', () => events.some((e) => e.kind === 'connect'));
    const during = (await scrape(m)).families;
    expect(sumOf(during, `${P}connections`, { serve: 'BLUE', socket: blue })).toBe(1);
    expect(sumOf(during, `${P}connections`, { socket: red })).toBe(0);
    await held.close();

    await runEmulator({ socketPath: blue, identity: 'blue-db', connections: 2, recordsPerConnection: 30 });
    await runEmulator({ socketPath: red, identity: 'red-db', connections: 1, recordsPerConnection: 12 });
    const final = await settled(c, 72);

    const { text, families } = await scrape(m);
    expect(sumOf(families, `${P}records_received_total`, { serve: 'BLUE', socket: blue })).toBe(60);
    expect(sumOf(families, `${P}records_received_total`, { serve: '', socket: red })).toBe(12); // an unnamed serve
    expect(sumOf(families, `${P}records_received_total`)).toBe(final.recordsIn);
    expect(sumOf(families, `${P}frames_sent_total`)).toBe(final.framesOut);
    expect(final.framesOut).toBe(standIn.stats().frames);
    expect(sumOf(families, `${P}sent_bytes_total`)).toBe(final.bytesOut);
    expect(sumOf(families, `${P}posts_total`, { status: '2xx' })).toBe(final.requestsOk);
    expect(sumOf(families, `${P}posts_total`)).toBe(final.requestsOk); // no failures here
    expect(sumOf(families, `${P}lines_dropped_total`)).toBe(0);
    expect(sumOf(families, `${P}lines_dropped_total`, { serve: 'BLUE', reason: 'buffer_full' })).toBe(0); // at zero from the start
    expect(sumOf(families, `${P}queued_bytes`)).toBe(0);
    expect(sumOf(families, `${P}connections`)).toBe(final.connections);
    // Every post was answered, and each was timed once.
    expect(sumOf(families, `${P}post_duration_seconds`, {}, `${P}post_duration_seconds_count`)).toBe(final.requestsOk);
    expect(sumOf(families, `${P}post_duration_seconds`, {}, `${P}post_duration_seconds_sum`)).toBeGreaterThan(0);
    expect(sumOf(families, `${P}serves`)).toBe(2);
    expect(sumOf(families, `${P}serve_listening`)).toBe(2);
    expect(sumOf(families, `${P}servedb_reloads_total`)).toBe(1);
    expect(sumOf(families, `${P}servedb_rejects_total`)).toBe(0);
    const acceptedAt = sumOf(families, `${P}servedb_last_accepted_timestamp_seconds`);
    expect(acceptedAt).toBeGreaterThanOrEqual(Math.floor(startedAt));
    expect(acceptedAt).toBeLessThanOrEqual(Date.now() / 1000);
    expect(sumOf(families, `${P}ready`)).toBe(1);
    // Types as Prometheus conventions want them.
    for (const name of ['records_received_total', 'lines_dropped_total', 'posts_total', 'servedb_reloads_total']) {
      expect(families.get(`${P}${name}`)?.type).toBe('counter');
    }
    expect(families.get(`${P}post_duration_seconds`)?.type).toBe('histogram');
    expect(families.get(`${P}queued_bytes`)?.type).toBe('gauge');

    // Tokens are secret: not in the scrape, not in the health answers, in no form.
    const everything = [text, (await httpGet(`http://${m.address}/readyz`)).body, (await httpGet(`http://${m.address}/healthz`)).body].join('\n');
    for (const token of [TOKEN_BLUE, TOKEN_RED]) {
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.slice(2)); // without the t.
      expect(everything).not.toContain(Buffer.from(`token:${token}`).toString('base64'));
    }
    expect(everything).not.toContain('5ca1ab1e');
  });

  it('says which build runs, and counts what on-call alerts on: connections accepted and refused, protocol errors, identity mismatches, the serve db', async () => {
    const blue = join(tmp, 'blue.sock');
    const red = join(tmp, 'red.sock');
    writeServes(tmp, [
      { i: 'blue-db', t: TOKEN_BLUE, p: blue, name: 'BLUE' },
      { i: 'red-db', t: TOKEN_RED, p: red, name: 'RED' },
    ]);
    const { c, m } = await setUp({ maxConnectionsPerServe: 1 });
    await c.start();
    await waitUntil('ready', async () => (await httpGet(`http://${m.address}/readyz`)).status === 200);
    const version = (JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
    expect(events.find((e) => e.kind === 'started')).toMatchObject({ version });

    const held = await FakeBackend.open(blue, 'blue-db');
    await waitUntil('connect', () => events.some((e) => e.kind === 'connect'));
    await new FakeBackend(blue).closed; // over the serve's cap of 1: closed as soon as accepted
    const wrong = await FakeBackend.open(red, 'someone-else');
    await wrong.closed;
    const garbled = await FakeBackend.open(red, 'red-db');
    await garbled.write(Buffer.from([0x58, 0, 0, 0, 5, 0x21])); // type byte X: no such message
    await garbled.closed;
    await waitUntil('every refusal told', () => ['connections_refused', 'identity_mismatch', 'protocol_error'].every((k) => events.some((e) => e.kind === k)));

    let { families } = await scrape(m);
    const buildInfo = families.get(`${P}build_info`)?.samples;
    expect(buildInfo).toEqual([{ name: `${P}build_info`, labels: { version, node_version: process.version }, value: 1 }]);
    expect(sumOf(families, `${P}connections_accepted_total`, { serve: 'BLUE', socket: blue })).toBe(1);
    expect(sumOf(families, `${P}connections_accepted_total`, { serve: 'RED' })).toBe(1); // the garbled one identified first
    expect(sumOf(families, `${P}connections`, { serve: 'BLUE' })).toBe(1);
    expect(sumOf(families, `${P}connections_refused_total`, { serve: 'BLUE', reason: 'max_connections' })).toBe(1);
    expect(sumOf(families, `${P}identity_mismatches_total`, { serve: 'RED', socket: red })).toBe(1);
    expect(sumOf(families, `${P}identity_mismatches_total`, { serve: 'BLUE' })).toBe(0);
    expect(sumOf(families, `${P}protocol_errors_total`, { serve: 'RED', code: 'LOGFEBE_UNKNOWN_TYPE' })).toBe(1);
    expect(sumOf(families, `${P}servedb_set_age_seconds`)).toBeGreaterThanOrEqual(0);
    await held.close();

    // A rejected serves.new is counted; a serve that goes away takes its series with it.
    writeFileSync(join(tmp, 'serves.new'), '{"serves": [{"i": "x"}]}');
    c.reload();
    await waitUntil('the reject', () => events.some((e) => e.kind === 'serves_rejected'));
    writeServes(tmp, [{ i: 'blue-db', t: TOKEN_BLUE, p: blue, name: 'BLUE' }]);
    c.reload();
    await waitUntil('the new set', () => events.filter((e) => e.kind === 'serves_accepted').length === 2);
    ({ families } = await scrape(m));
    expect(sumOf(families, `${P}servedb_rejects_total`)).toBe(1);
    expect(sumOf(families, `${P}servedb_reloads_total`)).toBe(2);
    expect(sumOf(families, `${P}serves`)).toBe(1);
    for (const f of families.values()) expect(f.samples.filter((s) => s.labels.socket === red)).toEqual([]);
    expect(sumOf(families, `${P}connections_accepted_total`, { serve: 'BLUE' })).toBe(1);
  });

  it('shows batches waiting in the spool, and their age growing while nothing else happens', async () => {
    const blue = join(tmp, 'blue.sock');
    writeServes(tmp, [{ i: 'blue-db', t: TOKEN_BLUE, p: blue, name: 'BLUE' }]);
    const { c, m } = await setUp({ spoolDir: join(tmp, 'spool') });
    await c.start();
    await waitUntil('listening', () => events.some((e) => e.kind === 'listening'));
    await standIn.setMode({ kind: 'down' });
    await runEmulator({ socketPath: blue, identity: 'blue-db', connections: 1, recordsPerConnection: 25 });
    await waitUntil('spooled', () => stats.recordsIn === 25 && stats.queuedBytes === 0 && stats.spoolBatches > 0);

    const first = (await scrape(m)).families;
    expect(sumOf(first, `${P}spool_batches`)).toBe(stats.spoolBatches);
    expect(sumOf(first, `${P}spool_bytes`)).toBeGreaterThan(0);
    expect(sumOf(first, `${P}serve_spool_batches`, { serve: 'BLUE', socket: blue })).toBe(stats.spoolBatches);
    expect(sumOf(first, `${P}serve_spool_bytes`, { serve: 'BLUE' })).toBeGreaterThan(0);
    expect(sumOf(first, `${P}spool_batches_spooled_total`)).toBeGreaterThanOrEqual(stats.spoolBatches);
    const age = sumOf(first, `${P}spool_oldest_batch_age_seconds`);
    await waitUntil('the age to grow', async () => sumOf((await scrape(m)).families, `${P}spool_oldest_batch_age_seconds`) >= age + 0.2);
    expect(sumOf((await scrape(m)).families, `${P}serve_spool_oldest_batch_age_seconds`, { serve: 'BLUE' })).toBeGreaterThanOrEqual(age + 0.2);

    await standIn.setMode({ kind: 'up' });
    await waitUntil('drained', () => stats.spoolBatches === 0);
    const after = (await scrape(m)).families;
    expect(sumOf(after, `${P}spool_batches`)).toBe(0);
    expect(sumOf(after, `${P}spool_oldest_batch_age_seconds`)).toBe(0);
    expect(after.get(`${P}serve_spool_batches`)?.samples).toEqual([]); // only serves with something spooled
    expect(sumOf(after, `${P}spool_batches_drained_total`)).toBe(sumOf(after, `${P}spool_batches_spooled_total`));
    expect(sumOf(after, `${P}spool_batches_lost_total`)).toBe(0);
  });

  it('counts failed posts by the status logplex answered, and the frames lost with them', async () => {
    const blue = join(tmp, 'blue.sock');
    writeServes(tmp, [{ i: 'blue-db', t: TOKEN_BLUE, p: blue, name: 'BLUE' }]);
    const { c, m } = await setUp();
    await c.start();
    await waitUntil('listening', () => events.some((e) => e.kind === 'listening'));
    await standIn.setMode({ kind: 'fail', status: 401 }); // permanent: each batch is lost at once

    await runEmulator({ socketPath: blue, identity: 'blue-db', recordsPerConnection: 20 });
    await settled(c, 20); // every batch posted and given up

    const { families } = await scrape(m);
    const failed = events.filter((e) => e.kind === 'post_failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(sumOf(families, `${P}posts_total`, { serve: 'BLUE', status: '401' })).toBe(failed.length);
    expect(sumOf(families, `${P}posts_total`, { status: '2xx' })).toBe(stats.requestsOk);
    expect(sumOf(families, `${P}lines_dropped_total`, { serve: 'BLUE', reason: 'permanent' })).toBe(stats.lost);
    expect(stats.lost).toBeGreaterThan(0);
    // A 401 is an answer: timed like any other.
    expect(sumOf(families, `${P}post_duration_seconds`, {}, `${P}post_duration_seconds_count`)).toBe(stats.requestsOk + failed.length);
  });

  it('keeps per-serve counters rising when a quiet serve is retired from the stats and comes back', async () => {
    const blue = join(tmp, 'blue.sock');
    writeServes(tmp, [{ i: 'blue-db', t: TOKEN_BLUE, p: blue, name: 'BLUE' }]);
    const { c, m } = await setUp({ laneIdleMs: 100 });
    await c.start();
    await waitUntil('listening', () => events.some((e) => e.kind === 'listening'));

    await runEmulator({ socketPath: blue, identity: 'blue-db', recordsPerConnection: 5 });
    await settled(c, 5);
    await waitUntil('the serve retired from the stats', () => stats.serves.length === 0);
    // More than before: a fold that missed the restart would take 7 - 5 for what was added.
    await runEmulator({ socketPath: blue, identity: 'blue-db', recordsPerConnection: 7 });
    await settled(c, 12);
    expect(stats.serves.map((s) => s.recordsIn)).toEqual([7]); // the sink counts the new lane from zero

    const { families } = await scrape(m);
    expect(sumOf(families, `${P}records_received_total`, { serve: 'BLUE' })).toBe(12);
  });

  it('/readyz says which serve cannot listen and why (503), then 200 once it can', async () => {
    const later = join(tmp, 'later', 'blue.sock');
    writeServes(tmp, [{ i: 'blue-db', t: TOKEN_BLUE, p: later, name: 'BLUE' }]);
    const { c, m } = await setUp({ listenRetryMs: 50 });
    await c.start();
    await waitUntil('the listen error', () => events.some((e) => e.kind === 'listen_error'));

    const down = await httpGet(`http://${m.address}/readyz`);
    expect(down.status).toBe(503);
    expect(down.body).toBe(`not ready: 1 of 1 serves not listening: BLUE (${later}): LISTEN_NO_DIRECTORY\n`);
    const { families } = await scrape(m);
    expect(sumOf(families, `${P}serve_listening`, { serve: 'BLUE' })).toBe(0);
    expect(sumOf(families, `${P}ready`)).toBe(0);

    mkdirSync(join(tmp, 'later'));
    await waitUntil('ready', async () => (await httpGet(`http://${m.address}/readyz`)).status === 200);
    expect(sumOf((await scrape(m)).families, `${P}serve_listening`, { serve: 'BLUE' })).toBe(1);

    await c.stop(); // the endpoint closes with the collector: nothing keeps the process alive
    await waitUntil('the endpoint closed', async () => {
      try {
        await httpGet(`http://${m.address}/healthz`);
        return false;
      } catch {
        return true;
      }
    });
  });

  it('answers 404 elsewhere and 405 to other methods; refuses an address it cannot listen on', async () => {
    const { m } = await setUp();
    expect((await httpGet(`http://${m.address}/`)).status).toBe(404);
    const post = await new Promise<number>((resolve, reject) =>
      request(`http://${m.address}/metrics`, { method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end(),
    );
    expect(post).toBe(405);
    const taken = m.address;
    const other = createCollector({ serveDbDir: tmp, logplexUrl: standIn.url });
    await expect(serveMetrics(other, { listen: taken })).rejects.toMatchObject({
      code: 'METRICS_LISTEN_FAILED',
      message: expect.stringContaining(`cannot listen for metrics on ${taken}: `),
    });
    await expect(serveMetrics(other, { listen: 'nowhere' })).rejects.toMatchObject({ code: 'METRICS_OPTIONS_INVALID' });
  });
});
