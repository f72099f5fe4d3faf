import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { firstValueFrom, take, toArray } from 'rxjs';
import { startLogplexStandIn, type LogplexStandIn, type ReceivedBatch } from '../../src/tools/logplexStandIn';

const TOKEN = 't.6f1c2d3e-0000-4000-8000-000000000001';
const TS = '2026-11-25T01:43:51.596000+00:00';

/** One frame built by hand, byte length and all, as the brief asks: no shared encoder. */
function frame(msg: string, pid = 4517): string {
  const syslog = `<134>1 ${TS} postgres ${TOKEN} postgres.${pid} - - ${msg}`;
  return `${Buffer.byteLength(syslog)} ${syslog}`;
}

interface Reply {
  status: number;
  body: string;
}

interface PostOptions {
  body?: Buffer | string;
  token?: string | null; // null: no Authorization
  count?: number | null; // null: no Logplex-Msg-Count
  headers?: Record<string, string>;
  chunked?: boolean;
  method?: string;
}

/** node:http rather than fetch, so every header (or its absence) is under the test's control. */
function post(s: LogplexStandIn, o: PostOptions = {}): Promise<Reply> {
  const body = Buffer.from(o.body ?? frame('[DATABASE] [1-1] hello'));
  const headers: Record<string, string> = { 'content-type': 'application/logplex-1', ...o.headers };
  if (o.token !== null) headers.authorization = `Basic ${Buffer.from(`token:${o.token ?? TOKEN}`).toString('base64')}`;
  if (o.count !== null) headers['logplex-msg-count'] = String(o.count ?? 1);
  if (o.chunked === true) headers['transfer-encoding'] = 'chunked';
  else headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = request(s.url, { method: o.method ?? 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('logplex stand-in', () => {
  let s: LogplexStandIn;
  afterEach(async () => {
    await s.close();
  });

  it('accepts a correct POST with 204 and reports what it received', async () => {
    s = await startLogplexStandIn();
    expect(s.url).toBe(`http://127.0.0.1:${s.port}/logs`);
    const got = firstValueFrom(s.received$);
    const body = frame('[BLUE] [5-1] sql_error_code = 23505 ERROR:  dup ✓') + frame('[BLUE] [5-2] sql_error_code = 23505 DETAIL:  Key (x)=(1) — already');
    const reply = await post(s, { body, count: 2, headers: { 'logplex-frame-id': 'ABC123' } });
    expect(reply.status).toBe(204);
    const batch: ReceivedBatch = await got;
    expect(batch.token).toBe(TOKEN);
    expect(batch.user).toBe('token');
    expect(batch.frameId).toBe('ABC123');
    expect(batch.frames.map((f) => f.msg)).toEqual([
      '[BLUE] [5-1] sql_error_code = 23505 ERROR:  dup ✓',
      '[BLUE] [5-2] sql_error_code = 23505 DETAIL:  Key (x)=(1) — already',
    ]);
    expect(batch.frames[0]?.appName).toBe(TOKEN);
    expect(s.stats()).toMatchObject({ requests: 1, accepted: 1, frames: 2, frameIds: 1, statuses: { 204: 1 } });
  });

  it('refuses a Logplex-Msg-Count that does not match the frames with 400', async () => {
    s = await startLogplexStandIn();
    const body = frame('a') + frame('b');
    expect((await post(s, { body, count: 3 })).status).toBe(400);
    expect((await post(s, { body, count: 1 })).status).toBe(400);
    expect((await post(s, { body, count: null })).status).toBe(400);
    expect((await post(s, { body, count: 2 })).status).toBe(204);
    expect(s.stats()).toMatchObject({ requests: 4, accepted: 1, frames: 2, statuses: { 400: 3, 204: 1 } });
  });

  it('counts and validates frames without building them when nobody watches (the fast path)', async () => {
    s = await startLogplexStandIn();
    expect((await post(s, { body: frame('a') + frame('b') + frame('c'), count: 3 })).status).toBe(204);
    expect((await post(s, { body: frame('a') + frame('b'), count: 3 })).status).toBe(400);
    expect((await post(s, { body: `${frame('a')}9 <134>1`, count: 2 })).status).toBe(400);
    expect(s.stats().frames).toBe(3);
  });

  it('hands each accepted body, inflated, to onBody without building frames (the benchmarks\' path)', async () => {
    const seen: { token: string; frameId: string | undefined; body: string; frameCount: number }[] = [];
    s = await startLogplexStandIn({ onBody: (a) => seen.push({ ...a, body: a.body.toString('utf8') }) });
    const body = frame('a') + frame('b');
    const gz = gzipSync(Buffer.from(body));
    expect((await post(s, { body: gz, count: 2, headers: { 'content-encoding': 'gzip', 'logplex-frame-id': 'F1' } })).status).toBe(204);
    expect((await post(s, { body, count: 3 })).status).toBe(400); // refused bodies are not handed over
    expect(seen).toEqual([{ token: TOKEN, frameId: 'F1', body, frameCount: 2 }]);
  });

  it('records the token of each request from basic auth, and checks an allow-list', async () => {
    s = await startLogplexStandIn({ tokens: ['t.one', 't.two'] });
    const batches = firstValueFrom(s.received$.pipe(take(3), toArray()));
    expect((await post(s, { token: 't.one' })).status).toBe(204);
    expect((await post(s, { token: 't.two' })).status).toBe(204);
    expect((await post(s, { token: 't.two' })).status).toBe(204);
    expect((await post(s, { token: 't.three' })).status).toBe(401);
    expect((await post(s, { token: null })).status).toBe(401);
    expect((await batches).map((b) => b.token)).toEqual(['t.one', 't.two', 't.two']);
    expect(s.stats().framesByToken).toEqual({ 't.one': 1, 't.two': 2 });
  });

  it('inflates a gzip body', async () => {
    s = await startLogplexStandIn();
    const got = firstValueFrom(s.received$);
    const body = gzipSync(Buffer.from(frame('zipped ü') + frame('second')));
    const reply = await post(s, { body, count: 2, headers: { 'content-encoding': 'gzip' } });
    expect(reply.status).toBe(204);
    expect((await got).frames.map((f) => f.msg)).toEqual(['zipped ü', 'second']);
    expect(s.stats().bodyBytes).toBe(body.length);
    expect((await post(s, { body: 'not gzip', headers: { 'content-encoding': 'gzip' } })).status).toBe(400);
  });

  it('refuses chunked bodies, wrong content types, other methods and malformed bodies', async () => {
    s = await startLogplexStandIn();
    expect((await post(s, { chunked: true })).status).toBe(400);
    expect((await post(s, { headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await post(s, { method: 'PUT' })).status).toBe(405);
    const malformed = await post(s, { body: '40 <134>1 short' });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatch(/LOGPLEX_TRUNCATED/);
    expect(s.stats().accepted).toBe(0);
  });

  it('prints frames as `heroku logs` shows them', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (c: Buffer) => (printed += c.toString('utf8')));
    s = await startLogplexStandIn({ print: out });
    const body = frame('[BLUE] [5-1] sql_error_code = 23505 ERROR:  duplicate key', 4517) + frame('[BLUE] [6-1] x', 42);
    expect((await post(s, { body, count: 2 })).status).toBe(204);
    expect(printed).toBe(
      `${TS} app[postgres.4517]: [BLUE] [5-1] sql_error_code = 23505 ERROR:  duplicate key\n` +
        `${TS} app[postgres.42]: [BLUE] [6-1] x\n`,
    );
  });

  describe('modes', () => {
    it('fail answers the status, always or with a probability', async () => {
      const rolls = [0.99, 0.1, 0.9];
      s = await startLogplexStandIn({ random: () => rolls.shift() ?? 0 });
      await s.setMode({ kind: 'fail', status: 503 });
      expect((await post(s)).status).toBe(503); // roll 0.99 < the default probability 1
      await s.setMode({ kind: 'fail', status: 503, probability: 0.5 });
      expect((await post(s)).status).toBe(503); // roll 0.1 < 0.5
      expect((await post(s)).status).toBe(204); // roll 0.9
      await s.setMode({ kind: 'ok' });
      expect((await post(s)).status).toBe(204);
      expect(s.stats()).toMatchObject({ accepted: 2, statuses: { 503: 2, 204: 2 } });
    });

    it('slow answers after the delay', async () => {
      s = await startLogplexStandIn();
      await s.setMode({ kind: 'slow', delayMs: 150 });
      const t0 = Date.now();
      expect((await post(s)).status).toBe(204);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    });

    it('hang holds the request open until the server goes down', async () => {
      s = await startLogplexStandIn();
      await s.setMode({ kind: 'hang' });
      const pending = post(s);
      const outcome = pending.then(
        (r) => `answered ${r.status}`,
        (e: NodeJS.ErrnoException) => `failed ${e.code ?? e.message}`,
      );
      const early = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('still hanging'), 200))]);
      expect(early).toBe('still hanging');
      expect(s.stats().hanging).toBe(1);
      await s.setMode({ kind: 'down' });
      expect(await outcome).toBe('failed ECONNRESET');
    });

    it('down refuses connections; up reopens on the same port', async () => {
      s = await startLogplexStandIn();
      const port = s.port;
      expect((await post(s)).status).toBe(204);
      await s.setMode({ kind: 'down' });
      await expect(post(s)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await s.setMode({ kind: 'up' });
      expect(s.port).toBe(port);
      expect(s.mode()).toEqual({ kind: 'ok' });
      expect((await post(s)).status).toBe(204);
      expect(s.stats().accepted).toBe(2);
    });
  });

  it('completes received$ on close', async () => {
    s = await startLogplexStandIn();
    const all = firstValueFrom(s.received$.pipe(toArray()));
    expect((await post(s)).status).toBe(204);
    await s.close();
    expect(await all).toHaveLength(1);
  });
});
