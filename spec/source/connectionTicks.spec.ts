// A connection read in ticks, on virtual time over a real unix socket: nothing is read between
// ticks, a filling socket is read at once until it is not, and the handshake timeout keeps the
// scheduler's time.
import { createServer, type Server, type Socket } from 'node:net';
import { BehaviorSubject, type Subscription } from 'rxjs';
import { VirtualTimeScheduler } from 'rxjs';
import { encodeRecord, encodeVersion } from '../../src/protocol/encode';
import { CATCH_UP_RECORDS, readConnection, type ConnectionOptions } from '../../src/source/connection';
import type { SourceEvent } from '../../src/source/events';
import { Budget } from '../../src/budget';
import { ReadTicks } from '../../src/source/readTicks';
import { eachRecord, type SourcedRecord } from '../../src/source/sourcedRecord';
import { FakeBackend, handshake, makeServe, record, tempDir, waitFor } from './support';

const TICK_MS = 10;

describe('a connection read in ticks (virtual time, real socket)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: Server;
  let vt: VirtualTimeScheduler;
  let accepted: Socket | undefined;
  let subscription: Subscription | undefined;
  const records: SourcedRecord[] = [];
  const chunkSizes: number[] = []; // records per emission
  const events: SourceEvent[] = [];
  let backend: FakeBackend;
  let ticks: ReadTicks;

  /** Runs every timer due up to `ms` from now on the virtual clock. */
  const advance = (ms: number): void => {
    vt.maxFrames = vt.now() + ms;
    vt.flush();
    vt.frame = vt.maxFrames; // flush stops at the last action run: the clock goes on to the target
  };

  const open = async (options: Partial<ConnectionOptions> = {}): Promise<void> => {
    const serve = makeServe(tmp.path('a.sock'), 'ident');
    ticks = new ReadTicks(TICK_MS, vt);
    server = createServer({ highWaterMark: 1 }, (socket) => {
      accepted = socket;
      subscription = readConnection(socket, new BehaviorSubject(serve), {
        maxMessageBytes: 1 << 20,
        drainIdleMs: 50,
        drainTimeoutMs: 2000,
        handshakeTimeoutMs: 10_000,
        events: (e) => events.push(e),
        scheduler: vt,
        ticks,
        ...options,
      }).subscribe((chunk) => {
        chunkSizes.push(chunk.records.length);
        eachRecord(chunk, (r) => records.push(r));
      });
    });
    await new Promise<void>((resolve) => server.listen(serve.socketPath, resolve));
    backend = await FakeBackend.open(serve.socketPath);
    await waitFor('the accept', () => accepted !== undefined);
  };

  /** Node holds a chunk of the socket, unread by the collector. */
  const held = (): boolean => (accepted?.readableLength ?? 0) > 0;

  beforeEach(() => {
    tmp = tempDir();
    vt = new VirtualTimeScheduler();
    vt.maxFrames = 0;
    accepted = undefined;
    records.length = 0;
    chunkSizes.length = 0;
    events.length = 0;
  });
  afterEach(async () => {
    subscription?.unsubscribe();
    backend?.destroy();
    await new Promise((resolve) => server.close(resolve));
    tmp.remove();
  });

  it('reads nothing between ticks, and at a tick every record node holds, in one read and one emission', async () => {
    await open();
    await backend.write(Buffer.concat([handshake('ident'), ...[1, 2, 3].map((seq) => encodeRecord(record(7, seq)))]));
    await waitFor('node to hold the first chunk', held);
    expect(records).toEqual([]);
    advance(TICK_MS);
    expect(records.map((r) => r.message.record.SeqNum)).toEqual([1, 2, 3]);
    expect(records.every((r) => r.receivedAt === TICK_MS)).toBe(true); // the tick's time
    expect(chunkSizes).toEqual([3]); // the whole read, once: V and I do not count, nor emit
    expect(events.map((e) => e.kind)).toEqual(['connect']);

    await backend.send(record(7, 4));
    await waitFor('node to hold the next chunk', held);
    expect(records).toHaveLength(3);
    advance(TICK_MS);
    expect(records.map((r) => r.message.record.SeqNum)).toEqual([1, 2, 3, 4]);
    expect(chunkSizes).toEqual([3, 1]);
  });

  it('reads a filling socket as it becomes readable, with no tick, until a read comes back small; then in ticks again', async () => {
    await open();
    // One read of more than CATCH_UP_RECORDS: the backend's kernel queue is filling.
    const burst = 2 * CATCH_UP_RECORDS;
    await backend.write(Buffer.concat([handshake('ident'), ...Array.from({ length: burst }, (_, i) => encodeRecord(record(7, i + 1)))]));
    await waitFor('the burst, a tick at a time', () => {
      if (held()) advance(TICK_MS);
      return records.length === burst;
    });
    // From here the virtual clock stands still: only reading as the socket becomes readable can
    // deliver, and one send() per record fills the kernel queue within ~170 records.
    const more = 600;
    for (let i = 0; i < more; i++) void backend.send(record(7, burst + i + 1));
    await waitFor('every record sent one per send(), without a tick', () => records.length === burst + more);

    // A read of one record is small: the socket is back in ticks (this one may still come at once).
    await backend.send(record(7, burst + more + 1));
    await waitFor('the single record', () => records.length === burst + more + 1 || held());
    if (held()) advance(TICK_MS);
    await waitFor('the single record', () => records.length === burst + more + 1);
    await backend.send(record(7, burst + more + 2));
    await waitFor('node to hold it', held);
    expect(records).toHaveLength(burst + more + 1);
    advance(TICK_MS);
    expect(records.at(-1)?.message.record.SeqNum).toBe(burst + more + 2);

    // And it catches up again on the next burst: a socket paused for ticks flows again.
    const sent = records.length;
    void backend.send(...Array.from({ length: burst }, (_, i) => record(7, sent + i + 1)));
    await waitFor('the second burst, a tick at a time', () => {
      if (held()) advance(TICK_MS);
      return records.length === sent + burst;
    });
    for (let i = 0; i < more; i++) void backend.send(record(7, sent + burst + i + 1));
    await waitFor('every record of the second run, without a tick', () => records.length === sent + burst + more);
    expect(records.map((r) => r.message.record.SeqNum)).toEqual(Array.from({ length: sent + burst + more }, (_, i) => i + 1));
  });

  it('leaves the ticks for good when a read it catches up with closes it', async () => {
    // The read that ends the connection is not large, and used to send it back to the ticks it had
    // just left: their timer then ran on for a closed connection, holding it, for as long as the
    // source lived (jest never exited).
    const partials = new Budget(96 * 1024); // refused at its second read, the first being large
    await open({ partials });
    await backend.write(handshake('ident'));
    const huge = encodeRecord(record(7, 1, 'x'.repeat(1024 * 1024 - 1000))); // past the budget: refused mid-way
    void backend.write(huge).catch(() => undefined); // the collector closes the socket under it
    await waitFor('the refusal', () => {
      if (held()) advance(TICK_MS);
      return events.some((e) => e.kind === 'protocol_error');
    });
    expect(events.find((e) => e.kind === 'protocol_error')).toMatchObject({ code: 'LOGFEBE_PARTIAL_LIMIT' });
    expect(accepted?.destroyed).toBe(true);
    expect(ticks.size).toBe(0);
    expect(partials.held).toBe(0);
  });

  it('times the handshake out on the scheduler: not one virtual ms early', async () => {
    await open({ handshakeTimeoutMs: 5_000 });
    await backend.write(encodeVersion('PG-15.20/logfebe-1'));
    await waitFor('node to hold V', held);
    advance(4_999);
    expect(events).toEqual([]);
    expect(backend.isClosed).toBe(false);
    advance(1);
    expect(events).toEqual([
      expect.objectContaining({ kind: 'protocol_error', code: 'LOGFEBE_HANDSHAKE_TIMEOUT', reason: 'logfebe: no V and I within 5000 ms of connecting (got V only, 24 bytes)', duration_ms: 5_000 }),
    ]);
    await backend.closed;
  });

  it('drains on the scheduler: reads as data arrives once serve$ completes, closes after drainIdleMs of quiet', async () => {
    const serve = makeServe(tmp.path('a.sock'), 'ident');
    const serve$ = new BehaviorSubject(serve);
    const ticks = new ReadTicks(TICK_MS, vt);
    server = createServer({ highWaterMark: 1 }, (socket) => {
      accepted = socket;
      subscription = readConnection(socket, serve$, {
        maxMessageBytes: 1 << 20, drainIdleMs: 50, drainTimeoutMs: 2000, handshakeTimeoutMs: 10_000, events: (e) => events.push(e), scheduler: vt, ticks,
      }).subscribe((chunk) => eachRecord(chunk, (r) => records.push(r)));
    });
    await new Promise<void>((resolve) => server.listen(serve.socketPath, resolve));
    backend = await FakeBackend.open(serve.socketPath, 'ident');
    await waitFor('the handshake, a tick at a time', () => {
      if (held()) advance(TICK_MS);
      return events.length === 1;
    });
    serve$.complete();
    await backend.send(record(7, 1));
    await waitFor('the record, with no tick', () => records.length === 1);
    advance(49);
    expect(events.map((e) => e.kind)).toEqual(['connect']);
    advance(1);
    expect(events.at(-1)).toMatchObject({ kind: 'disconnect', reason: 'serve stopped; connection drained', records: 1 });
  });
});
