// One POST: error classification, request preparation, and abort on unsubscribe.
import { Subject } from 'rxjs';
import { isTransientStatus, logplexSink, LogplexClient, preparePost, PostError, resolveSinkOptions, type SinkEvent } from '../../src/sink';
import { classifyRequestError, parseRetryAfter } from '../../src/sink/post';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import { FAST, makeRecord, makeServe, startServer, stubFormatter, stubFrames, waitFor } from './support';

describe('classification', () => {
  it('retries 408, 429 and 5xx only', () => {
    const transient = [408, 429, 500, 502, 503, 504];
    const permanent = [300, 400, 401, 403, 404, 413, 415, 422];
    expect(transient.filter(isTransientStatus)).toEqual(transient);
    expect(permanent.filter(isTransientStatus)).toEqual([]);
  });

  it.each([
    ['UND_ERR_HEADERS_TIMEOUT', 'LOGPLEX_TIMEOUT', true],
    ['UND_ERR_BODY_TIMEOUT', 'LOGPLEX_TIMEOUT', true],
    ['UND_ERR_CONNECT_TIMEOUT', 'LOGPLEX_TIMEOUT', true],
    ['ECONNREFUSED', 'LOGPLEX_CONNECTION', true],
    ['UND_ERR_SOCKET', 'LOGPLEX_CONNECTION', true],
    ['UND_ERR_INVALID_ARG', 'LOGPLEX_REQUEST_INVALID', false],
    ['UND_ERR_ABORTED', 'LOGPLEX_ABORTED', false],
  ])('maps %s to %s (transient: %s)', (cause, code, transient) => {
    const err = Object.assign(new Error('boom'), { code: cause });
    expect(classifyRequestError(err, false)).toMatchObject({ code, transient, causeCode: cause });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-26T02:00:00Z');
  it.each([
    ['120', 120_000],
    [' 3 ', 3000],
    [['7', '9'], 7000],
    ['Thu, 26 Nov 2026 02:00:30 GMT', 30_000],
    ['Thu, 26 Nov 2026 01:59:00 GMT', 0], // in the past: now
    ['soon', undefined],
    ['-5', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j → %j ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('preparePost', () => {
  it('builds the body once: gzip and Frame-Id fixed for every attempt', async () => {
    const serve = makeServe('https://logplex.example.com/logs');
    const body = stubFrames(makeRecord(serve, 'a\nb')).bytes;
    const prepared = await preparePost({ serve, body, frameCount: 2, dropCount: 4, lostCount: 0 }, { gzip: true, userAgent: 'ua/1' });
    expect(prepared.origin).toBe('https://logplex.example.com');
    expect(prepared.path).toBe('/logs');
    expect(prepared.headers).toMatchObject({
      'content-encoding': 'gzip',
      'content-length': String(prepared.body.length),
      'logplex-msg-count': '2',
      'logplex-drop-count': '4',
      'user-agent': 'ua/1',
    });
    expect(prepared.headers['logplex-lost-count']).toBeUndefined();
    expect(prepared.frameId).toMatch(/^[0-9A-F]{32}$/);
  });
});

describe('LogplexClient', () => {
  it('turns non-2xx answers into PostError with the status', async () => {
    const s = await startServer(() => 413);
    const client = new LogplexClient(resolveSinkOptions(FAST));
    try {
      const prepared = await preparePost(
        { serve: makeServe(s.url), body: Buffer.from('1 x'), frameCount: 1, dropCount: 0, lostCount: 0 },
        { gzip: false, userAgent: 'ua' },
      );
      await expect(client.send(prepared)).rejects.toMatchObject({ code: 'LOGPLEX_HTTP_STATUS', status: 413, transient: false });
      await expect(client.send(prepared)).rejects.toBeInstanceOf(PostError);
    } finally {
      await client.close();
      await s.close();
    }
  });
});

describe('LogplexClient: the post deadline', () => {
  const onePost = (url: string) =>
    preparePost({ serve: makeServe(url), body: Buffer.from('1 x'), frameCount: 1, dropCount: 0, lostCount: 0 }, { gzip: false, userAgent: 'ua' });

  it('fails a post whose headers never come as a transient timeout, before the headers timeout', async () => {
    const s = await startServer(() => 'hang');
    const client = new LogplexClient(resolveSinkOptions({ ...FAST, headersTimeoutMs: 60_000, postDeadlineMs: 100 }));
    try {
      await expect(client.send(await onePost(s.url))).rejects.toMatchObject({ code: 'LOGPLEX_TIMEOUT', causeCode: 'POST_DEADLINE', transient: true });
    } finally {
      await client.destroy();
      await s.close();
    }
  });

  it('still fails an aborted post as aborted, not retried', async () => {
    const s = await startServer(() => 'hang');
    const client = new LogplexClient(resolveSinkOptions({ ...FAST, postDeadlineMs: 60_000 }));
    try {
      const prepared = await onePost(s.url);
      const abort = new AbortController();
      const sent = client.send(prepared, abort.signal);
      await waitFor(() => s.received.length === 1, 3000, 'the post to arrive');
      abort.abort();
      await expect(sent).rejects.toMatchObject({ code: 'LOGPLEX_ABORTED', transient: false });
      await expect(client.send(prepared, abort.signal)).rejects.toMatchObject({ code: 'LOGPLEX_ABORTED', transient: false });
    } finally {
      await client.destroy();
      await s.close();
    }
  });
});

describe('abort', () => {
  it('unsubscribing aborts posts in flight and closes connections', async () => {
    const s = await startServer(() => 'hang');
    const serve = makeServe(s.url);
    const input = new Subject<SourcedRecord>();
    const events: SinkEvent[] = [];
    const sub = logplexSink(input, { ...FAST, format: stubFormatter, events: (e) => events.push(e) }).subscribe();
    input.next(makeRecord(serve, 'stuck'));
    await waitFor(() => s.received.length === 1, 3000, 'the post to arrive');
    expect(s.openConnections()).toBe(1);
    sub.unsubscribe();
    await waitFor(() => s.openConnections() === 0, 3000, 'the client to drop its connection');
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual([]); // an abort is not a failure to report, nor a retry
    expect(s.received).toHaveLength(1);
    await s.close();
  });
});
