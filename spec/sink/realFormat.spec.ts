// The sink with the real format stage (the default when no formatter is injected), on the pg15
// fixture records, read back with the strict logplex body parser from src/tools.
import { lastValueFrom, Subject, tap } from 'rxjs';
import { createFormatter } from '../../src/format';
import { logplexSink, type SinkEvent, type SinkStats } from '../../src/sink';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import { parseLogplexBody } from '../../src/tools/logplexBody';
import { fixtureRecords } from '../support/fixtures';
import { deadPort, FAST, makeServe, startServer, waitFor, type TestServer } from './support';

const TOKEN = 't.6f1c2d3e-8d6a-4c2b-9d7e-0a1b2c3d4e5f';
let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('logplexSink with src/format', () => {
  it('posts every fixture record as the formatter renders it, in bodies logplex would parse', async () => {
    const s = await startServer();
    servers.push(s);
    const serve = makeServe(s.url, { token: TOKEN });
    const records: SourcedRecord[] = fixtureRecords().map((record) => ({
      serve,
      message: { type: 'L', record, severity: { name: 'LOG', label: 'LOG' } },
      receivedAt: Date.parse('2026-11-25T01:43:51.596Z'),
    }));
    expect(records.length).toBeGreaterThan(10);
    const input = new Subject<SourcedRecord>();
    const done = lastValueFrom(logplexSink(input, { ...FAST, concurrency: 1, maxBatchFrames: 7 }));
    records.forEach((r) => input.next(r));
    input.complete();
    const stats = await done;

    const format = createFormatter();
    const expected = Buffer.concat(records.map((r) => format(r).bytes));
    expect(Buffer.concat(s.received.map((r) => r.body)).equals(expected)).toBe(true);
    for (const req of s.received) {
      const frames = parseLogplexBody(req.body);
      expect(req.headers['logplex-msg-count']).toBe(String(frames.length));
      expect(frames.length).toBeLessThanOrEqual(7);
      expect(frames.every((f) => f.appName === TOKEN)).toBe(true);
    }
    expect(stats.framesOut).toBe(s.received.reduce((n, r) => n + parseLogplexBody(r.body).length, 0));
  });

  it('writes the L10 notice with the real formatter after drops', async () => {
    const port = await deadPort();
    const serve = makeServe(`http://127.0.0.1:${port}/logs`, { token: TOKEN });
    const record = fixtureRecords()[0]!;
    const rec = (seq: number): SourcedRecord => ({
      serve,
      message: { type: 'L', record: { ...record, SeqNum: seq }, severity: { name: 'LOG', label: 'LOG' } },
      receivedAt: Date.now(),
    });
    const oneRecordBytes = createFormatter()(rec(1)).bytes.length;
    const events: SinkEvent[] = [];
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    const done = lastValueFrom(
      logplexSink(input, {
        ...FAST,
        bufferCapBytes: oneRecordBytes,
        retry: { ...FAST.retry, maxAttempts: 10_000 },
        events: (e) => events.push(e),
      }).pipe(tap((stats) => (latest = stats))),
    );
    input.next(rec(1));
    await waitFor(() => events.some((e) => e.kind === 'post_failed'), 3000, 'a failing post');
    for (let seq = 2; seq <= 4; seq++) input.next(rec(seq));
    const s = await startServer(() => 204, port);
    servers.push(s);
    // The retried batch and the notice of the drops (retried beside it) may land in either order.
    await waitFor(() => s.received.length >= 1, 3000, 'the retried batch');
    // Record 5 must find room: the server has the batch, but the sink frees its bytes only once
    // the 204 is back. Sent before that, it is dropped too and the notice counts four.
    await waitFor(() => latest !== undefined && latest.queuedBytes === 0, 3000, 'the buffer freed');
    input.next(rec(5));
    input.complete();
    await done;
    const notice = s.received.flatMap((r) => parseLogplexBody(r.body)).find((f) => f.msg.includes('messages dropped'))!;
    const dropped = 3 * createFormatter()(rec(2)).frames;
    expect(notice.msg).toMatch(new RegExp(`^Error L10 \\(output buffer overflow\\): ${dropped} messages dropped since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\+00:00\\.$`));
    expect(notice.appName).toBe(TOKEN);
  });
});
