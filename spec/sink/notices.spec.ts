// L10 notices (dropped and lost counts told to logplex in-band) against a real HTTP server on
// 127.0.0.1: which credentials they go out with, what happens when they cannot be delivered,
// and that they, and the stats, do not wait for the serve's next record.
import { BehaviorSubject, lastValueFrom, Subject, tap, type Subscription } from 'rxjs';
import type { ServeSet } from '../../src/servedb/serve';
import { logplexSink, type SinkEvent, type SinkStats } from '../../src/sink';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import { FAST, makeRecord, makeServe, msgOf, startServer, stubFormatter, stubFrames, waitFor, type Received, type TestServer } from './support';

const servers: TestServer[] = [];
const running: Subscription[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) s.unsubscribe(); // a failed wait must not leave timers behind
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const GOOD = 't.good';
/** A logplex that knows one token: anything else is 401, as logplex answers a revoked token. */
async function logplexKnowing(token: string): Promise<TestServer> {
  const authOf = (t: string) => `Basic ${Buffer.from(`token:${t}`).toString('base64')}`;
  const s = await startServer((req) => (req.headers.authorization === authOf(token) ? 204 : 401));
  servers.push(s);
  return s;
}

const tokenOf = (r: Received): string => Buffer.from((r.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().replace(/^token:/, '');
const isNotice = (frame: string): boolean => msgOf(frame).startsWith('Error L10');

describe('L10 notices use the serve as the serve set has it now', () => {
  it('posts the last notice with the current token, not the token of the last record', async () => {
    const s = await logplexKnowing(GOOD);
    const bad = makeServe(s.url, { token: 't.bad' });
    const good = makeServe(s.url, { token: GOOD });
    const serveSet$ = new BehaviorSubject<ServeSet>([bad]);
    const events: SinkEvent[] = [];
    const input = new Subject<SourcedRecord>();
    // A minute's flush interval: the records' batch forms when the input ends, so the notice of
    // their loss can only be the last one.
    const done = lastValueFrom(
      logplexSink(input, { ...FAST, flushIntervalMs: 60_000, format: stubFormatter, events: (e) => events.push(e), serveSet$ }),
    );
    input.next(makeRecord(bad, 'a'));
    input.next(makeRecord(bad, 'b'));
    serveSet$.next([good]); // the operator fixes the token; no record follows
    input.complete();
    const stats = await done;

    expect(s.received.map((r) => [tokenOf(r), r.frames.map(msgOf)])).toEqual([
      ['t.bad', ['a', 'b']],
      [GOOD, [expect.stringMatching(/^Error L10 \(output buffer overflow\): 2 messages lost since /)]],
    ]);
    expect(s.received[1]!.frames[0]).toContain(` ${GOOD} `); // the notice's APP-NAME is the current token too
    expect(stats).toMatchObject({ lost: 2, requestsOk: 1, requestsFailed: 1, queuedBytes: 0 });
    expect(events.filter((e) => e.kind === 'batch_lost')).toEqual([expect.objectContaining({ frames: 2, status: 401 })]);
  });

  it('counts a last notice that cannot be delivered as lost, and says so', async () => {
    const s = await logplexKnowing(GOOD);
    const bad = makeServe(s.url, { token: 't.bad' });
    const events: SinkEvent[] = [];
    const input = new Subject<SourcedRecord>();
    const done = lastValueFrom(
      logplexSink(input, { ...FAST, flushIntervalMs: 60_000, format: stubFormatter, events: (e) => events.push(e), serveSet$: new BehaviorSubject<ServeSet>([bad]) }),
    );
    input.next(makeRecord(bad, 'a'));
    input.next(makeRecord(bad, 'b'));
    input.complete();
    const stats = await done;

    expect(s.received.map((r) => r.frames.length)).toEqual([2, 1]);
    expect(stats).toMatchObject({ lost: 3, requestsOk: 0, requestsFailed: 2, queuedBytes: 0 });
    expect(events.filter((e) => e.kind === 'batch_lost').map((e) => e.frames)).toEqual([2, 1]);
  });
});

describe('notices and stats do not wait for the next record', () => {
  it('tells logplex of drops within a flush interval of logplex accepting again, on a serve gone quiet', async () => {
    let up = false;
    const s = await startServer(() => (up ? 204 : 503));
    servers.push(s);
    const serve = makeServe(s.url);
    const frameBytes = stubFrames(makeRecord(serve, 'fill 0')).bytes.length;
    const events: SinkEvent[] = [];
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    running.push(
      logplexSink(input, { ...FAST, format: stubFormatter, events: (e) => events.push(e), bufferCapBytes: 2 * frameBytes, concurrency: 1 })
        .pipe(tap((st) => (latest = st)))
        .subscribe(),
    );
    input.next(makeRecord(serve, 'fill 0'));
    input.next(makeRecord(serve, 'fill 1'));
    await waitFor(() => events.some((e) => e.kind === 'post_failed'), 3000, 'their batch to be failing');
    for (const i of [0, 1, 2]) input.next(makeRecord(serve, `dropped ${i}`)); // after that batch formed: none carries the count
    up = true;
    // The input stays open and silent: nothing but a timer can carry the count now.
    await waitFor(() => latest?.framesOut === 3, 5000, 'the records and the notice to be delivered');
    const notices = new Set(s.received.flatMap((r) => r.frames).filter(isNotice).map(msgOf)); // retries repeat it
    expect([...notices]).toEqual([expect.stringMatching(/^Error L10 \(output buffer overflow\): 3 messages dropped since /)]);
    expect(latest).toMatchObject({ dropped: 3, lost: 0, queuedBytes: 0 });
  });

  it('shows drops in the stats while they happen, though no batch forms or settles', async () => {
    const s = await startServer(() => 'hang');
    servers.push(s);
    const serve = makeServe(s.url);
    const frameBytes = stubFrames(makeRecord(serve, 'fill 0')).bytes.length;
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    running.push(
      logplexSink(input, { ...FAST, format: stubFormatter, bufferCapBytes: 2 * frameBytes, headersTimeoutMs: 60_000 })
        .pipe(tap((st) => (latest = st)))
        .subscribe(),
    );
    input.next(makeRecord(serve, 'fill 0'));
    input.next(makeRecord(serve, 'fill 1'));
    await waitFor(() => s.received.length === 1, 3000, 'the (hanging) post of both');
    input.next(makeRecord(serve, 'dropped 0')); // starts a run of drops: published at once
    await waitFor(() => latest?.dropped === 1, 3000, 'the first drop');
    for (let i = 1; i <= 10; i += 1) input.next(makeRecord(serve, `dropped ${i}`));
    await waitFor(() => latest?.dropped === 11, 3000, 'the later drops to be published');
    expect(latest).toMatchObject({ recordsIn: 13, dropped: 11 });
  });

  it('does not repeat a notice-only post that was refused, until the serve\'s delivery changes', async () => {
    const s = await logplexKnowing(GOOD);
    const bad = makeServe(s.url, { token: 't.bad' });
    const good = makeServe(s.url, { token: GOOD });
    const serveSet$ = new BehaviorSubject<ServeSet>([bad]);
    const events: SinkEvent[] = [];
    const input = new Subject<SourcedRecord>();
    let latest: SinkStats | undefined;
    running.push(
      logplexSink(input, { ...FAST, format: stubFormatter, events: (e) => events.push(e), serveSet$ })
        .pipe(tap((st) => (latest = st)))
        .subscribe(),
    );
    input.next(makeRecord(bad, 'a'));
    await waitFor(() => s.received.length === 2, 3000, 'the record and a first notice of its loss, both refused');
    expect(s.received.map((r) => r.frames.map(isNotice))).toEqual([[false], [true]]);
    // Twenty flush intervals: a notice retried on every one would have posted many times by now.
    await new Promise((r) => setTimeout(r, 20 * FAST.flushIntervalMs));
    expect(s.received).toHaveLength(2);
    serveSet$.next([good]);
    await waitFor(() => latest?.requestsOk === 1, 3000, 'the notice to go out with the new token');
    expect(s.received).toHaveLength(3);
    expect(tokenOf(s.received[2]!)).toBe(GOOD);
    expect(s.received[2]!.frames.map(msgOf)).toEqual([expect.stringMatching(/1 messages lost since/)]);
    expect(latest).toMatchObject({ lost: 1, requestsFailed: 2 });
  });
});
