// Who a serve keeps when peers crowd it, over real unix sockets: connections that never identify
// (anyone may connect to a 0777 socket) are the first closed and never keep PostgreSQL's backends
// out; when descriptors run out, the serve holding the most gives one up, so a serve holding none
// always gets one.
import { VirtualTimeScheduler } from 'rxjs';
import { FakeBackend, makeServe, record, useSourceBed, waitFor } from './support';

describe('socketSource admission', () => {
  const bed = useSourceBed();
  const open = bed.open;
  const silentFlood = async (path: string, n: number): Promise<FakeBackend[]> => {
    const flood: FakeBackend[] = [];
    for (let i = 0; i < n; i++) flood.push(await open(path));
    return flood;
  };

  it('closes the oldest unidentified connection for a newer one, and never an identified one', async () => {
    const harness = bed.harness({ maxConnectionsPerServe: 10, maxUnidentifiedPerServe: 4, connectionsRefusedReportMs: 60_000 });
    const serve = makeServe(bed.tmp().path('a.sock'), 'app');
    await harness.apply([serve]);
    const tenant = [await open(serve.socketPath, 'app'), await open(serve.socketPath, 'app'), await open(serve.socketPath, 'app')];
    await waitFor('three connected', () => harness.eventsOf('connect').length === 3);

    const flood = await silentFlood(serve.socketPath, 40);
    await waitFor('all but the newest four strangers closed', () => flood.filter((b) => b.isClosed).length === 36);
    expect(flood.slice(-4).every((b) => !b.isClosed)).toBe(true);
    expect(tenant.every((b) => !b.isClosed)).toBe(true);
    expect(harness.eventsOf('connections_refused')[0]).toMatchObject({ reason: 'unidentified_limit', refused: 1, limit: 4 });

    // The tenant's backends, old and new, still deliver.
    const newcomer = await open(serve.socketPath, 'app');
    await newcomer.send(record(1, 1));
    await tenant[0]!.send(record(2, 1));
    await waitFor('both records', () => harness.recordsOf(1).length === 1 && harness.recordsOf(2).length === 1);
  });

  it('closes strangers that said nothing before a backend whose handshake waits for the next tick', async () => {
    // Ticks on virtual time: nothing is read, and nobody identifies, until the clock moves.
    const vt = new VirtualTimeScheduler();
    const harness = bed.harness({ maxUnidentifiedPerServe: 4, connectionsRefusedReportMs: 60_000, listenSliceMs: 0, readIntervalMs: 10, scheduler: vt });
    const serve = makeServe(bed.tmp().path('a.sock'), 'app');
    await harness.apply([serve]);
    const backend = await open(serve.socketPath, 'app');
    await backend.send(record(7, 1));

    const flood = await silentFlood(serve.socketPath, 10);
    // The backend and the newest three strangers stay; the seven older strangers go.
    await waitFor('seven strangers closed', () => flood.filter((b) => b.isClosed).length === 7);
    expect(backend.isClosed).toBe(false);
    expect(flood.slice(-3).every((b) => !b.isClosed)).toBe(true);

    vt.maxFrames = vt.now() + 10;
    vt.flush(); // the tick: its V, I and record are read
    await waitFor("the backend's record", () => harness.recordsOf(7).length === 1);
    expect(harness.eventsOf('connect')).toHaveLength(1);
  });

  it('at its cap, a serve closes an unidentified connection for a newcomer rather than refuse it', async () => {
    const harness = bed.harness({ maxConnectionsPerServe: 5, connectionsRefusedReportMs: 60_000 });
    const serve = makeServe(bed.tmp().path('a.sock'), 'app');
    await harness.apply([serve]);
    const flood = await silentFlood(serve.socketPath, 30);
    await waitFor('the flood held to the cap', () => flood.filter((b) => !b.isClosed).length === 5);

    // pg_logfebe connecting as a backend logs: every record gets through.
    for (let seq = 1; seq <= 10; seq++) {
      const backend = await open(serve.socketPath, 'app');
      await backend.send(record(3, seq));
      await waitFor(`record ${seq}`, () => harness.recordsOf(3).length === seq);
      await backend.close();
    }
    expect(harness.eventsOf('connections_refused')[0]).toMatchObject({ reason: 'max_connections', limit: 5 });
  });

  it('a serve holding no connection gets a descriptor from the serve holding the most, strangers first', async () => {
    // 56 descriptors, 32 reserved: 24 for sockets, two of them the listeners.
    const harness = bed.harness({ openFileLimit: 56, reservedFileDescriptors: 32, connectionsRefusedReportMs: 60_000 });
    const a = makeServe(bed.tmp().path('a.sock'), 'app', 'token-1', 'A');
    const b = makeServe(bed.tmp().path('b.sock'), 'other', 'token-2', 'B');
    await harness.apply([a, b]);
    const tenantA = [await open(a.socketPath, 'app'), await open(a.socketPath, 'app')];
    // Identified before the flood: read in ticks, a backend is a stranger until its V and I are read.
    await waitFor("A's backends identified", () => harness.eventsOf('connect').length === 2);
    const flood = await silentFlood(a.socketPath, 40);
    await waitFor('A holding every descriptor', () => flood.filter((f) => !f.isClosed).length === 20);

    // B reconnects for each record, as pg_logfebe does: none is refused, none lost.
    for (let seq = 1; seq <= 10; seq++) {
      const backend = await open(b.socketPath, 'other');
      await backend.send(record(4, seq));
      await waitFor(`B's record ${seq}`, () => harness.recordsOf(4).length === seq);
      await backend.close();
    }
    expect(tenantA.every((t) => !t.isClosed)).toBe(true); // A gave up strangers, not its backends
    expect(harness.eventsOf('connections_refused').filter((e) => e.serve === 'B')).toEqual([]);
    expect(harness.eventsOf('connections_refused').find((e) => e.serve === 'A' && e.reason === 'open_file_limit')).toMatchObject({
      limit: 24,
    });
  });

  it('shares descriptors between serves whose connections all identified, down to an even split', async () => {
    const harness = bed.harness({ openFileLimit: 56, reservedFileDescriptors: 32, connectionsRefusedReportMs: 60_000 });
    const a = makeServe(bed.tmp().path('a.sock'), 'app', 'token-1', 'A');
    const b = makeServe(bed.tmp().path('b.sock'), 'other', 'token-2', 'B');
    await harness.apply([a, b]);
    const heldA: FakeBackend[] = [];
    for (let i = 0; i < 22; i++) heldA.push(await open(a.socketPath, 'app'));
    await waitFor('A holding every descriptor', () => harness.eventsOf('connect').length === 22);

    const heldB: FakeBackend[] = [];
    for (let i = 0; i < 15; i++) heldB.push(await open(b.socketPath, 'other'));
    await waitFor('an even split', () => heldA.filter((x) => !x.isClosed).length === 11 && heldB.filter((x) => !x.isClosed).length === 11);
    // A gave up its oldest; past an even split, B's newcomers cost B, never A.
    expect(heldA.slice(0, 11).every((x) => x.isClosed)).toBe(true);
    await heldA[21]!.send(record(5, 1));
    await heldB.find((x) => !x.isClosed)!.send(record(6, 1));
    await waitFor('both serves deliver', () => harness.recordsOf(5).length === 1 && harness.recordsOf(6).length === 1);
  });
});
