// Applying new serve sets to a running source, and stopping it: what survives, what closes,
// what is still forwarded, and when the stream completes.
import { existsSync, lstatSync } from 'node:fs';
import { FakeBackend, Harness, makeServe, record, sleep, tempDir, virtualTime, waitFor } from './support';

describe('socketSource reloads and stops', () => {
  let tmp: ReturnType<typeof tempDir>;
  let harness: Harness;
  const backends: FakeBackend[] = [];

  const open = async (socketPath: string, identity: string): Promise<FakeBackend> => {
    const backend = await FakeBackend.open(socketPath, identity);
    backends.push(backend);
    return backend;
  };

  beforeEach(() => {
    tmp = tempDir();
    harness = new Harness();
  });
  afterEach(() => {
    harness.unsubscribe();
    for (const b of backends.splice(0)) b.destroy();
    tmp.remove();
  });

  it('keeps unchanged serves connected, closes removed ones, applies new credentials, across one reload', async () => {
    const kept = makeServe(tmp.path('kept.sock'), 'k', 'token-k', 'KEPT');
    const gone = makeServe(tmp.path('gone.sock'), 'g', 'token-g', 'GONE');
    const rekeyed = makeServe(tmp.path('rekey.sock'), 'r', 'old-token', 'REKEYED');
    await harness.apply([kept, gone, rekeyed]);

    const onKept = await open(kept.socketPath, 'k');
    const onGone = await open(gone.socketPath, 'g');
    const onRekeyed = await open(rekeyed.socketPath, 'r');
    await onKept.send(record(1, 1));
    await onGone.send(record(2, 1));
    await onRekeyed.send(record(3, 1));
    await waitFor('records before the reload', () => harness.records.length === 3);
    const keptInode = lstatSync(kept.socketPath).ino;

    // The same `kept` as a new object (as a re-read serves file gives it), `gone` dropped,
    // `rekeyed` with a new token, and a brand new serve.
    const rekeyedNow = makeServe(rekeyed.socketPath, 'r', 'new-token', 'REKEYED');
    const added = makeServe(tmp.path('added.sock'), 'a', 'token-a', 'ADDED');
    await harness.apply([makeServe(kept.socketPath, 'k', 'token-k', 'KEPT'), rekeyedNow, added]);

    expect(existsSync(gone.socketPath)).toBe(false); // unlinked as soon as the set was applied
    await onGone.closed; // and its connection closed by us, after draining
    expect(lstatSync(kept.socketPath).ino).toBe(keptInode); // same listener, not re-created

    await onKept.send(record(1, 2));
    await onRekeyed.send(record(3, 2));
    const onAdded = await open(added.socketPath, 'a');
    await onAdded.send(record(4, 1));
    await waitFor('records after the reload', () => harness.records.length === 6);

    expect(harness.recordsOf(1).map((r) => r.message.record.SeqNum)).toEqual([1, 2]);
    expect(harness.recordsOf(1).every((r) => r.serve.name === 'KEPT')).toBe(true);
    expect(harness.recordsOf(3).map((r) => r.serve.target.token.reveal())).toEqual(['old-token', 'new-token']);
    expect(harness.recordsOf(4)[0]!.serve).toBe(added);
    expect(onKept.isClosed).toBe(false);
    expect(onRekeyed.isClosed).toBe(false);

    const disconnects = harness.eventsOf('disconnect');
    expect(disconnects.map((e) => e.socket)).toEqual([gone.socketPath]);
    expect(disconnects[0]).toMatchObject({ serve: 'GONE', records: 1, reason: 'serve stopped; connection drained' });
    expect(harness.eventsOf('stopped_listening').map((e) => e.socket)).toEqual([gone.socketPath]);
    expect(harness.eventsOf('listening').map((e) => e.socket)).toEqual([kept.socketPath, gone.socketPath, rekeyed.socketPath, added.socketPath]);
  });

  it('forwards what a removed serve had already received before closing its connections', async () => {
    const gone = makeServe(tmp.path('gone.sock'), 'g');
    await harness.apply([gone]);
    const backend = await open(gone.socketPath, 'g');
    // Far more than one read: much of it is still in the kernel's socket buffer at the reload.
    await backend.send(...Array.from({ length: 2000 }, (_, i) => record(7, i + 1, 'z'.repeat(300))));
    await harness.apply([]);
    expect(existsSync(gone.socketPath)).toBe(false);
    await backend.closed;
    expect(harness.recordsOf(7).map((r) => r.message.record.SeqNum)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  it('closes connections that identified as the old identity when the identity changes, but keeps listening', async () => {
    const before = makeServe(tmp.path('a.sock'), 'old-identity');
    await harness.apply([before]);
    const oldBackend = await open(before.socketPath, 'old-identity');
    await oldBackend.send(record(1, 1));
    await waitFor('record', () => harness.records.length === 1);
    const inode = lstatSync(before.socketPath).ino;

    await harness.apply([makeServe(before.socketPath, 'new-identity')]);
    await oldBackend.closed;
    expect(harness.eventsOf('identity_mismatch')).toEqual([
      expect.objectContaining({ got: 'old-identity', expected: 'new-identity', reason: 'got identity "old-identity", socket expects "new-identity"', records: 1 }),
    ]);
    expect(lstatSync(before.socketPath).ino).toBe(inode);

    const newBackend = await open(before.socketPath, 'new-identity');
    await newBackend.send(record(2, 1));
    await waitFor('record with the new identity', () => harness.recordsOf(2).length === 1);
    expect(harness.recordsOf(2)[0]!.serve.identity).toBe('new-identity');
  });

  it('a serve removed and added again listens afresh', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await harness.apply([serve]);
    await harness.apply([]);
    expect(existsSync(serve.socketPath)).toBe(false);
    await harness.apply([serve]);
    const backend = await open(serve.socketPath, 'db');
    await backend.send(record(1, 1));
    await waitFor('record', () => harness.records.length === 1);
  });

  it('on completion of the serve sets: stops listening at once, drains connections, then completes', async () => {
    const a = makeServe(tmp.path('a.sock'), 'a');
    const b = makeServe(tmp.path('b.sock'), 'b');
    await harness.apply([a, b]);
    const onA = await open(a.socketPath, 'a');
    const onB = await open(b.socketPath, 'b');
    await onA.send(...Array.from({ length: 1000 }, (_, i) => record(1, i + 1, 'z'.repeat(300))));
    await onB.send(record(2, 1));

    harness.serveSet$.complete(); // the daemon's SIGTERM
    expect(existsSync(a.socketPath)).toBe(false);
    expect(existsSync(b.socketPath)).toBe(false);
    expect(harness.completed).toBe(false); // still draining

    await Promise.all([onA.closed, onB.closed]);
    await waitFor('completion', () => harness.completed);
    expect(harness.recordsOf(1)).toHaveLength(1000);
    expect(harness.recordsOf(2)).toHaveLength(1);
    expect(harness.eventsOf('disconnect')).toHaveLength(2);
    expect(harness.eventsOf('stopped_listening')).toHaveLength(2);
  });

  it('bounds the drain on the scheduler: a backend that never goes quiet is closed drainTimeoutMs after the stop', async () => {
    harness.unsubscribe();
    const vt = virtualTime();
    harness = new Harness({ drainIdleMs: 100, drainTimeoutMs: 300, listenSliceMs: 0, readIntervalMs: 0, scheduler: vt });
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await harness.apply([serve]);
    const chatty = await open(serve.socketPath, 'db');
    await chatty.send(record(1, 1));
    await waitFor('its first record', () => harness.records.length === 1);
    harness.serveSet$.complete();
    // A record every 10 virtual ms: never quiet for drainIdleMs, so only the bound ends it.
    for (let seq = 2; vt.now() < 290; seq++) {
      await chatty.send(record(1, seq));
      await waitFor(`record ${seq}`, () => harness.records.length === seq);
      await vt.advance(10);
      expect(harness.eventsOf('disconnect')).toEqual([]);
    }
    await vt.advance(10);
    await waitFor('completion', () => harness.completed);
    expect(harness.eventsOf('disconnect')).toEqual([expect.objectContaining({ reason: 'serve stopped; drain timed out', records: 30 })]);
  });

  it('unsubscribing closes every listener and connection at once and removes the socket files', async () => {
    const a = makeServe(tmp.path('a.sock'), 'a');
    const b = makeServe(tmp.path('b.sock'), 'b');
    await harness.apply([a, b]);
    const onA = await open(a.socketPath, 'a');
    const onB = await open(b.socketPath, 'b');
    await sleep(10);

    harness.unsubscribe();
    expect(existsSync(a.socketPath)).toBe(false);
    expect(existsSync(b.socketPath)).toBe(false);
    await Promise.all([onA.closed, onB.closed]);
    expect(harness.eventsOf('disconnect').map((e) => e.reason)).toEqual(['source unsubscribed', 'source unsubscribed']);
    expect(harness.completed).toBe(false);
  });
});
