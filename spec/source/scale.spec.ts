// Thousands of serves: correctness at scale, and the event loop getting turns
// while they start. Timing targets are the bench's business (bench/serveSet.ts), not this file's.
import { existsSync, lstatSync } from 'node:fs';
import { FakeBackend, Harness, makeServe, record, tempDir, waitFor } from './support';

const SERVES = 2_000;

describe('socketSource with thousands of serves', () => {
  let tmp: ReturnType<typeof tempDir>;
  let harness: Harness | undefined;
  const backends: FakeBackend[] = [];

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    harness?.unsubscribe();
    harness = undefined;
    for (const b of backends.splice(0)) b.destroy();
    tmp.remove();
  });

  const listeningCount = (h: Harness): number => h.eventsOf('listening').length;

  it('listens on all 2,000, and a reload that changes one serve touches only that one', async () => {
    const h = (harness = new Harness());
    const serves = Array.from({ length: SERVES }, (_, i) => makeServe(tmp.path(`${i}.sock`), `id${i}`, `token-${i}`, `S${i}`));
    h.serveSet$.next(serves);
    await waitFor('every serve listening', () => listeningCount(h) === SERVES, 60_000);
    expect(h.eventsOf('listen_error')).toEqual([]);
    expect(serves.every((s) => existsSync(s.socketPath))).toBe(true);
    const inodes = serves.map((s) => lstatSync(s.socketPath).ino);

    // A connection on one serve, to see that the reload leaves it alone.
    const backend = await FakeBackend.open(serves[7]!.socketPath, 'id7');
    backends.push(backend);
    await backend.send(record(7, 1));
    await waitFor('the first record', () => h.records.length === 1);

    // One token changed, one serve removed, one added; the other 1,997 are equal but new objects.
    const changed = makeServe(serves[3]!.socketPath, 'id3', 'new-token', 'S3');
    const added = makeServe(tmp.path('added.sock'), 'added', 'token-a', 'ADDED');
    const next = [...serves.map((s, i) => (i === 3 ? changed : makeServe(s.socketPath, s.identity, s.target.token.reveal(), s.name))), added];
    next.splice(5, 1); // serve 5 goes
    const before = h.events.length;
    h.serveSet$.next(next);
    await waitFor('the added serve listening', () => h.events.slice(before).some((e) => e.kind === 'listening'));

    const after = h.events.slice(before);
    expect(after.filter((e) => e.kind === 'listening').map((e) => e.socket)).toEqual([added.socketPath]);
    expect(after.filter((e) => e.kind === 'stopped_listening').map((e) => e.socket)).toEqual([serves[5]!.socketPath]);
    expect(existsSync(serves[5]!.socketPath)).toBe(false);
    expect(serves.every((s, i) => i === 5 || lstatSync(s.socketPath).ino === inodes[i])).toBe(true); // not re-created
    await backend.send(record(7, 2));
    await waitFor('the record after the reload', () => h.records.length === 2);
    expect(backend.isClosed).toBe(false);
  });

  it('gives the event loop turns while 2,000 serves start, instead of binding them all in one', async () => {
    const h = (harness = new Harness({ listenSliceMs: 1 }));
    const serves = Array.from({ length: SERVES }, (_, i) => makeServe(tmp.path(`${i}.sock`), `id${i}`));
    // A turn of the loop (an I/O callback, a timer) that comes while the serves start: before the
    // fix they were all created inside next(), so the first turn found every one listening.
    let listeningAtFirstTurn: number | undefined;
    h.serveSet$.next(serves);
    setImmediate(() => (listeningAtFirstTurn = listeningCount(h)));
    await waitFor('every serve listening', () => listeningCount(h) === SERVES, 60_000);
    expect(listeningAtFirstTurn).toBeDefined();
    expect(listeningAtFirstTurn).toBeLessThan(SERVES);
  });

  it('stops serves still waiting for their turn when the serve sets complete, and completes', async () => {
    const h = (harness = new Harness({ listenSliceMs: 1 }));
    const serves = Array.from({ length: SERVES }, (_, i) => makeServe(tmp.path(`${i}.sock`), `id${i}`));
    h.serveSet$.next(serves);
    h.serveSet$.complete(); // SIGTERM in the middle of a large apply
    await waitFor('the source to complete', () => h.completed, 60_000);
    expect(serves.filter((s) => existsSync(s.socketPath))).toEqual([]);
    expect(listeningCount(h)).toBe(h.eventsOf('stopped_listening').length);
  });
});
