// Listen retries on virtual time over a real directory: a serve that cannot listen tries again
// every listenRetryMs of the scheduler, comes up at the first retry after the fix, and says a
// failure that goes on once per LISTEN_ERROR_REPEAT_MS, with the attempts so far. The retry is
// 60 s, far past any wait of these tests: only the virtual clock can bring it.
import { mkdirSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { LISTEN_ERROR_REPEAT_MS } from '../../src/source/socketSource';
import { FakeBackend, Harness, makeServe, record, tempDir, virtualTime, waitFor } from './support';

const RETRY_MS = 60_000;

describe('listen retry (virtual time, real sockets)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let vt: ReturnType<typeof virtualTime>;
  let harness: Harness;
  let backend: FakeBackend | undefined;

  beforeEach(() => {
    tmp = tempDir();
    vt = virtualTime();
    // Created in one synchronous run (no slices) and read as data arrives (no ticks): each retry
    // happens inside advance().
    harness = new Harness({ listenRetryMs: RETRY_MS, listenSliceMs: 0, readIntervalMs: 0, scheduler: vt });
    backend = undefined;
  });
  afterEach(() => {
    backend?.destroy();
    harness.unsubscribe();
    tmp.remove();
  });

  it('tries again listenRetryMs after a failure, and listens from the first retry after the fix', async () => {
    const serve = makeServe(tmp.path('later/a.sock'), 'one');
    await harness.apply([serve]);
    expect(harness.eventsOf('listen_error')).toEqual([expect.objectContaining({ code: 'LISTEN_NO_DIRECTORY', attempts: 1, retry_in_ms: RETRY_MS })]);

    mkdirSync(tmp.path('later'));
    await vt.advance(RETRY_MS - 1);
    expect(existsSync(serve.socketPath)).toBe(false);
    await vt.advance(1);
    await waitFor('the retry to listen', () => harness.isListening(serve.socketPath));
    expect(vt.now()).toBe(RETRY_MS);

    backend = await FakeBackend.open(serve.socketPath, 'one');
    await backend.send(record(1, 1));
    await waitFor('its record', () => harness.recordsOf(1).length === 1);
  });

  it('says a failure that goes on once per LISTEN_ERROR_REPEAT_MS with the attempts so far, and a new cause at once', async () => {
    const serve = makeServe(tmp.path('later/a.sock'), 'one');
    await harness.apply([serve]);
    await vt.advance(LISTEN_ERROR_REPEAT_MS - 1); // nine retries, none of them news
    expect(harness.eventsOf('listen_error').map((e) => e.attempts)).toEqual([1]);
    await vt.advance(1); // the window ends: the latest of those held, with its count of attempts
    expect(harness.eventsOf('listen_error').map((e) => e.attempts)).toEqual([1, 10]);

    mkdirSync(tmp.path('later'));
    writeFileSync(serve.socketPath, 'not a socket'); // now something else is wrong
    await vt.advance(RETRY_MS);
    expect(harness.eventsOf('listen_error').map((e) => [e.code, e.attempts])).toEqual([
      ['LISTEN_NO_DIRECTORY', 1],
      ['LISTEN_NO_DIRECTORY', 10],
      ['LISTEN_NOT_A_SOCKET', 12],
    ]);
  });

  it('forgets a failure once the serve listens: the next one is said at once', async () => {
    const serve = makeServe(tmp.path('later/a.sock'), 'one');
    await harness.apply([serve]);
    await vt.advance(RETRY_MS); // held: attempt 2
    mkdirSync(tmp.path('later'));
    await vt.advance(RETRY_MS);
    await waitFor('the retry to listen', () => harness.isListening(serve.socketPath));
    await vt.advance(LISTEN_ERROR_REPEAT_MS); // what was held before the listen is not said after it
    expect(harness.eventsOf('listen_error').map((e) => e.attempts)).toEqual([1]);

    // The serve goes and comes back while its directory is gone: a new failure, said at once.
    await harness.apply([]);
    rmdirSync(tmp.path('later'));
    await harness.apply([serve]);
    expect(harness.eventsOf('listen_error').map((e) => e.attempts)).toEqual([1, 1]);
  });
});
