// Connections end to end over real unix sockets: handshake, records, identity check, protocol
// violations. PostgreSQL is played with node:net and the byte-exact encoder or fixture bytes.
import { existsSync } from 'node:fs';
import { Subject } from 'rxjs';
import { encodeRaw, encodeRecord } from '../../src/protocol/encode';
import type { ServeSet } from '../../src/servedb/serve';
import { socketSource } from '../../src/source/socketSource';
import { loadFixture } from '../support/fixtures';
import { FakeBackend, Harness, handshake, makeServe, record, sleep, tempDir, waitFor } from './support';

describe('socketSource connections', () => {
  let tmp: ReturnType<typeof tempDir>;
  let harness: Harness;

  beforeEach(() => {
    tmp = tempDir();
    harness = new Harness();
  });
  afterEach(() => {
    harness.unsubscribe();
    tmp.remove();
  });

  it.each([
    ['in ticks (the default)', undefined],
    ['as data arrives (readIntervalMs 0)', 0],
  ])('delivers the records of a real capture, in order, tagged with the serve, at any chunk boundary, read %s', async (_, readIntervalMs) => {
    if (readIntervalMs !== undefined) {
      harness.unsubscribe();
      harness = new Harness({ readIntervalMs });
    }
    const fixture = loadFixture('13-unique-violation');
    const serve = makeServe(tmp.path('a.sock'), 'test identity');
    await harness.apply([serve]);

    const backend = await FakeBackend.open(serve.socketPath);
    // Odd-sized chunks with pauses, so the frames are split across reads in awkward places.
    for (let at = 0; at < fixture.bytes.length; at += 7) {
      await backend.write(fixture.bytes.subarray(at, at + 7));
      if (at % 70 === 0) await sleep(1);
    }
    const expected = fixture.messages.filter((m) => m.type === 'L');
    await waitFor('all fixture records', () => harness.records.length === expected.length);

    expect(harness.records.map((r) => ({ type: 'L', ...r.message.record }))).toEqual(expected);
    expect(harness.records.every((r) => r.serve === serve)).toBe(true);
    const now = Date.now();
    expect(harness.records.every((r) => r.receivedAt > now - 10_000 && r.receivedAt <= now)).toBe(true);
    expect(harness.eventsOf('connect')).toEqual([
      { kind: 'connect', level: 'info', serve: 'BLUE', socket: serve.socketPath, identity: 'test identity', server_version: '15.20 (Debian 15.20-0+deb12u1)' },
    ]);

    await backend.close();
    await waitFor('disconnect', () => harness.eventsOf('disconnect').length === 1);
    expect(harness.eventsOf('disconnect')[0]).toMatchObject({
      level: 'info',
      identity: 'test identity',
      records: expected.length,
      bytes: fixture.bytes.length,
      reason: 'closed by PostgreSQL',
    });
  });

  it('refuses a connection whose identity does not match: nothing forwarded, one event, closed by us', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'right');
    await harness.apply([serve]);

    const intruder = await FakeBackend.open(serve.socketPath);
    await intruder.write(handshake('wrong'));
    await intruder.send(record(1, 1), record(1, 2)).catch(() => undefined);
    await intruder.closed; // we closed it: the test never calls close()

    await sleep(20);
    expect(harness.records).toEqual([]);
    expect(harness.eventsOf('connect')).toEqual([]);
    expect(harness.eventsOf('identity_mismatch')).toEqual([
      expect.objectContaining({
        level: 'warn',
        serve: 'BLUE',
        socket: serve.socketPath,
        got: 'wrong',
        expected: 'right',
        reason: 'got identity "wrong", socket expects "right"',
        records: 0,
      }),
    ]);
    expect(harness.events.filter((e) => e.kind !== 'listening')).toHaveLength(1); // one event, no disconnect
  });

  it('refuses a mismatched identity even when records arrive in the same read as the I message', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'right');
    await harness.apply([serve]);

    const intruder = await FakeBackend.open(serve.socketPath);
    await intruder.write(Buffer.concat([handshake('wrong'), encodeRecord(record(1, 1)), encodeRecord(record(1, 2))]));
    await intruder.closed;
    expect(harness.records).toEqual([]);
    expect(harness.eventsOf('identity_mismatch')).toHaveLength(1);
  });

  it('closes only the connection that breaks the protocol mid-stream; another keeps flowing', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await harness.apply([serve]);
    const good = await FakeBackend.open(serve.socketPath, 'db');
    const bad = await FakeBackend.open(serve.socketPath, 'db');

    await good.send(record(100, 1));
    await bad.send(record(200, 1), record(200, 2));
    await waitFor('records before the violation', () => harness.records.length === 3);

    await bad.write(encodeRaw('X', Buffer.from('garbage')));
    await bad.send(record(200, 3)).catch(() => undefined); // after the violation: never forwarded
    await bad.closed;

    await good.send(record(100, 2), record(100, 3));
    await waitFor('the good connection', () => harness.recordsOf(100).length === 3);
    expect(harness.recordsOf(100).map((r) => r.message.record.SeqNum)).toEqual([1, 2, 3]);
    expect(harness.recordsOf(200).map((r) => r.message.record.SeqNum)).toEqual([1, 2]);
    expect(harness.eventsOf('protocol_error')).toEqual([
      expect.objectContaining({ level: 'warn', code: 'LOGFEBE_UNKNOWN_TYPE', identity: 'db', records: 2, socket: serve.socketPath }),
    ]);
    expect(harness.eventsOf('protocol_error')[0]!.reason).toMatch(/'X'/);
    expect(good.isClosed).toBe(false);
    expect(harness.eventsOf('disconnect')).toEqual([]); // the protocol_error is bad's one event
  });

  it('closes a connection that sends a record before identifying, forwarding nothing', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await harness.apply([serve]);
    const rude = await FakeBackend.open(serve.socketPath);
    await rude.send(record(1, 1)).catch(() => undefined);
    await rude.closed;
    expect(harness.records).toEqual([]);
    expect(harness.eventsOf('protocol_error')).toEqual([expect.objectContaining({ code: 'LOGFEBE_BAD_ORDER', identity: undefined })]);
  });

  it('closes a connection whose message exceeds maxMessageBytes, as soon as the header says so', async () => {
    harness.unsubscribe();
    harness = new Harness({ maxMessageBytes: 1024 });
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await harness.apply([serve]);
    const backend = await FakeBackend.open(serve.socketPath, 'db');
    // One write: the good record shares a read with the violation, and must still be forwarded.
    await backend
      .write(Buffer.concat([encodeRecord(record(1, 1)), encodeRecord(record(1, 2, 'x'.repeat(5000)))]))
      .catch(() => undefined);
    await backend.closed;
    expect(harness.records.map((r) => r.message.record.SeqNum)).toEqual([1]);
    expect(harness.eventsOf('protocol_error')).toEqual([expect.objectContaining({ code: 'LOGFEBE_TOO_LARGE' })]);
  });

  it('reports a connection that ends in the middle of a message', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'db');
    await harness.apply([serve]);
    const backend = await FakeBackend.open(serve.socketPath, 'db');
    const bytes = encodeRecord(record(1, 1));
    await backend.write(bytes.subarray(0, bytes.length - 3));
    await backend.close();
    await waitFor('protocol_error', () => harness.eventsOf('protocol_error').length === 1);
    expect(harness.eventsOf('protocol_error')[0]).toMatchObject({ code: 'LOGFEBE_TRUNCATED_MESSAGE', identity: 'db' });
    expect(harness.records).toEqual([]);
  });

  it('keeps reading a connection while downstream is slow (never pauses the socket)', async () => {
    harness.unsubscribe();
    // A synchronous, slow consumer: the socket must still be drained between its calls, so the
    // backend's writes complete (a paused socket would leave them stuck in its buffer).
    const serveSet$ = new Subject<ServeSet>();
    let seen = 0;
    const subscription = socketSource(serveSet$).subscribe((chunk) => {
      seen += chunk.records.length;
      const until = Date.now() + chunk.records.length;
      while (Date.now() < until); // 1 ms of work per record
    });
    harness = new Harness(); // for afterEach
    try {
      const serve = makeServe(tmp.path('slow.sock'), 'db');
      serveSet$.next([serve]);
      await waitFor('socket', () => existsSync(serve.socketPath));
      const backend = await FakeBackend.open(serve.socketPath, 'db');
      const big = Array.from({ length: 400 }, (_, i) => record(1, i + 1, 'y'.repeat(2000)));
      await backend.send(...big); // ~800 KB: far more than a unix socket buffer holds
      await waitFor('all records', () => seen === 400, 10_000);
      expect(backend.socket.writableLength).toBe(0);
    } finally {
      subscription.unsubscribe();
    }
  });
});
