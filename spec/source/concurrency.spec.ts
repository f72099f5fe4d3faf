// A busy PostgreSQL: every process holds its own connection. 1,000 of them at once, each logging
// 20 records, must all arrive, in order per connection.
import { Harness, FakeBackend, makeServe, record, tempDir, waitFor } from './support';

const CONNECTIONS = 1_000;
const RECORDS_PER_CONNECTION = 20;

describe('socketSource under many connections', () => {
  let tmp: ReturnType<typeof tempDir>;
  let harness: Harness;
  const backends: FakeBackend[] = [];

  beforeEach(() => {
    tmp = tempDir();
    harness = new Harness();
  });
  afterEach(() => {
    for (const b of backends.splice(0)) b.destroy();
    harness.unsubscribe();
    tmp.remove();
  });

  it(`delivers ${CONNECTIONS} concurrent connections x ${RECORDS_PER_CONNECTION} records, in order per connection`, async () => {
    // Two serves, so the records must also land on the right one.
    const serves = [makeServe(tmp.path('a.sock'), 'a', 'token-a', 'A'), makeServe(tmp.path('b.sock'), 'b', 'token-b', 'B')];
    await harness.apply(serves);

    const opened = await Promise.all(
      Array.from({ length: CONNECTIONS }, (_, i) => {
        const serve = serves[i % 2]!;
        return FakeBackend.open(serve.socketPath, serve.identity);
      }),
    );
    backends.push(...opened);
    await waitFor('every connect', () => harness.eventsOf('connect').length === CONNECTIONS, 15_000);

    // Interleaved: every connection sends one record per round, all rounds in flight together.
    const writes: Promise<void>[] = [];
    for (let seq = 1; seq <= RECORDS_PER_CONNECTION; seq++) {
      opened.forEach((backend, i) => writes.push(backend.send(record(10_000 + i, seq))));
    }
    await Promise.all(writes);
    await waitFor('every record', () => harness.records.length === CONNECTIONS * RECORDS_PER_CONNECTION, 15_000);

    const seqsByPid = new Map<number, number[]>();
    for (const r of harness.records) {
      const { Pid, SeqNum } = r.message.record;
      expect(r.serve).toBe(serves[(Pid - 10_000) % 2]);
      seqsByPid.set(Pid, [...(seqsByPid.get(Pid) ?? []), SeqNum]);
    }
    const inOrder = Array.from({ length: RECORDS_PER_CONNECTION }, (_, i) => i + 1);
    expect(seqsByPid.size).toBe(CONNECTIONS);
    for (const seqs of seqsByPid.values()) expect(seqs).toEqual(inOrder);
    expect(harness.eventsOf('protocol_error')).toEqual([]);
    expect(harness.eventsOf('accept_error')).toEqual([]);
  }, 30_000);
});
