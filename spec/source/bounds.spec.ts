// Issue 14, items 1 and 6, over real unix sockets: what all connections' unfinished messages
// hold is bounded (a connection that would pass the bound is closed with LOGFEBE_PARTIAL_LIMIT);
// a connection that does not complete V and I in time is closed (LOGFEBE_HANDSHAKE_TIMEOUT);
// connections per serve are capped, and listeners and connections together leave the reserved
// descriptors alone, each refusal said in one aggregated line (who gives way: admission.spec.ts).
import { errnoCode } from '../../src/errors';
import { encodeRecord, encodeVersion } from '../../src/protocol/encode';
import { FakeBackend, handshake, makeServe, record, useSourceBed, virtualTime, waitFor } from './support';

describe('socketSource bounds on what peers make it hold', () => {
  const bed = useSourceBed();
  const open = bed.open;

  it('closes the connections whose unfinished records would pass the shared bound, and keeps serving', async () => {
    // 4 MiB for all: 3 of the 1 MiB records below fit (each held in at most 1 MiB), the others not.
    const harness = bed.harness({ maxPartialBytes: 4 * 1024 * 1024 });
    const serve = makeServe(bed.tmp().path('a.sock'), 'app');
    await harness.apply([serve]);

    const huge = encodeRecord(record(1, 1, 'x'.repeat(1024 * 1024 - 1000))); // just under the 1 MiB cap
    const mostOf = huge.subarray(0, huge.length - 1000);
    const hostile: FakeBackend[] = [];
    for (let i = 0; i < 10; i++) {
      const b = await open(serve.socketPath, 'app');
      hostile.push(b);
      // A connection past the bound is closed while this write is still under way: Node 24 and
      // later fail the write (ECANCELED), earlier ones said nothing. Either way it is the refusal
      // this test is about, counted below from the collector's side.
      await b.write(mostOf).catch((err: unknown) => expect(errnoCode(err)).toMatch(/^(ECANCELED|EPIPE|ECONNRESET)$/));
    }
    await waitFor('the connections past the bound to be refused', () => harness.eventsOf('protocol_error').length >= 6, 10_000);
    const refused = harness.eventsOf('protocol_error');
    expect(refused.every((e) => e.code === 'LOGFEBE_PARTIAL_LIMIT')).toBe(true);
    expect(refused[0]?.reason).toMatch(/over the 4194304 bytes all connections may hold together/);
    await waitFor('refused sockets closed', () => hostile.filter((b) => b.isClosed).length === refused.length);
    expect(refused.length).toBeGreaterThanOrEqual(6);
    expect(refused.length).toBeLessThanOrEqual(8);

    // A healthy tenant still gets through, and a hostile one that finishes its record is read.
    const healthy = await open(serve.socketPath, 'app');
    await healthy.send(record(2, 1, 'fine'));
    const finisher = hostile.find((b) => !b.isClosed)!;
    await finisher.write(huge.subarray(huge.length - 1000));
    await waitFor('both records', () => harness.recordsOf(2).length === 1 && harness.recordsOf(1).length === 1);
  });

  it('closes a connection that has not sent V and I within the handshake timeout, and says why', async () => {
    const harness = bed.harness({ handshakeTimeoutMs: 300 });
    const serve = makeServe(bed.tmp().path('a.sock'), 'app');
    await harness.apply([serve]);

    const silent = await open(serve.socketPath);
    const versionOnly = await open(serve.socketPath);
    await versionOnly.write(encodeVersion('PG-15.20/logfebe-1'));
    const trickle = await open(serve.socketPath);
    await trickle.write(handshake('app').subarray(0, 3));
    const good = await open(serve.socketPath, 'app');

    await waitFor('three timeouts', () => harness.eventsOf('protocol_error').length === 3, 10_000);
    await Promise.all([silent.closed, versionOnly.closed, trickle.closed]);
    const reasons = harness.eventsOf('protocol_error').map((e) => [e.code, e.reason, e.identified]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        ['LOGFEBE_HANDSHAKE_TIMEOUT', 'logfebe: no V and I within 300 ms of connecting (got nothing complete, 0 bytes)', false],
        ['LOGFEBE_HANDSHAKE_TIMEOUT', expect.stringMatching(/got V only, \d+ bytes\)$/), false],
        ['LOGFEBE_HANDSHAKE_TIMEOUT', 'logfebe: no V and I within 300 ms of connecting (got nothing complete, 3 bytes)', false],
      ]),
    );
    // The one that identified in time is not touched: it still delivers.
    expect(good.isClosed).toBe(false);
    await good.send(record(3, 1));
    await waitFor('its record', () => harness.recordsOf(3).length === 1);
  });

  it('caps connections per serve: the rest are closed at once, said in one line per interval', async () => {
    const vt = virtualTime();
    const harness = bed.harness({ maxConnectionsPerServe: 3, connectionsRefusedReportMs: 300, listenSliceMs: 0, readIntervalMs: 0, scheduler: vt });
    const serve = makeServe(bed.tmp().path('a.sock'), 'app');
    const other = makeServe(bed.tmp().path('b.sock'), 'other', 'token-2', 'OTHER');
    await harness.apply([serve, other]);
    const kept = [await open(serve.socketPath, 'app'), await open(serve.socketPath, 'app'), await open(serve.socketPath, 'app')];
    await waitFor('three connected', () => harness.eventsOf('connect').length === 3);

    const extra: FakeBackend[] = [];
    for (let i = 0; i < 5; i++) extra.push(await open(serve.socketPath));
    await Promise.all(extra.map((b) => b.closed)); // closed by us, at accept
    expect(harness.eventsOf('connections_refused')).toHaveLength(1); // the first at once, the rest counted
    await vt.advance(299);
    expect(harness.eventsOf('connections_refused')).toHaveLength(1);
    await vt.advance(1);
    expect(harness.eventsOf('connections_refused')).toEqual([
      { kind: 'connections_refused', level: 'warn', serve: 'BLUE', socket: serve.socketPath, reason: 'max_connections', refused: 1, limit: 3 },
      { kind: 'connections_refused', level: 'warn', serve: 'BLUE', socket: serve.socketPath, reason: 'max_connections', refused: 4, limit: 3 },
    ]);
    // The kept ones and another serve carry on; one that closes makes room.
    const elsewhere = await open(other.socketPath, 'other');
    await elsewhere.send(record(7, 1));
    await kept[0]!.send(record(8, 1));
    await waitFor('their records', () => harness.recordsOf(7).length === 1 && harness.recordsOf(8).length === 1);
    await kept[1]!.close();
    await waitFor('its disconnect', () => harness.eventsOf('disconnect').length === 1);
    const later = await open(serve.socketPath, 'app');
    await later.send(record(9, 1));
    await waitFor('the newcomer\'s record', () => harness.recordsOf(9).length === 1);
  });

  it('leaves the reserved descriptors alone: a connection past them costs the serve holding the most, a listener fails', async () => {
    // 40 descriptors, 20 reserved: 20 for sockets, two of them the listeners.
    const harness = bed.harness({ openFileLimit: 40, reservedFileDescriptors: 20, connectionsRefusedReportMs: 60_000 });
    const a = makeServe(bed.tmp().path('a.sock'), 'app', 'token-1', 'A');
    const b = makeServe(bed.tmp().path('b.sock'), 'other', 'token-2', 'B');
    await harness.apply([a, b]);
    const held: FakeBackend[] = [];
    for (let i = 0; i < 18; i++) held.push(await open(a.socketPath, 'app'));
    await waitFor('eighteen connected', () => harness.eventsOf('connect').length === 18);

    // B holds nothing: A, holding every descriptor, gives up its oldest connection for B's.
    const first = await open(b.socketPath, 'other');
    await held[0]!.closed;
    await waitFor('the closing said', () => harness.eventsOf('connections_refused').length === 1);
    expect(harness.eventsOf('connections_refused')[0]).toMatchObject({ serve: 'A', reason: 'open_file_limit', refused: 1, limit: 20 });
    await first.send(record(4, 1));
    await waitFor('B\'s first record', () => harness.recordsOf(4).length === 1);
    held.shift();

    // A new serve cannot listen while the sockets hold every descriptor they may have ...
    const c = makeServe(bed.tmp().path('c.sock'), 'third', 'token-3', 'C');
    await harness.apply([a, b, c]);
    expect(harness.eventsOf('listen_error')).toEqual([
      expect.objectContaining({ serve: 'C', code: 'LISTEN_FILE_LIMIT', reason: expect.stringMatching(/hold the 20 the open-file limit leaves them/) }),
    ]);
    // ... while connections that close give theirs back, without costing anyone.
    await Promise.all(held.splice(0, 5).map((backend) => backend.close()));
    await waitFor('five more disconnects', () => harness.eventsOf('disconnect').length === 6);
    const welcome = await open(b.socketPath, 'other');
    await welcome.send(record(5, 1));
    await waitFor('B\'s record', () => harness.recordsOf(5).length === 1);
    expect(harness.eventsOf('connections_refused')).toHaveLength(1);
  });
});

