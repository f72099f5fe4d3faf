// The spool store on a real directory: order, delivered marks across restarts, torn tails,
// the cap, the free-space floor, disk errors, and file modes (it holds tokens).
import { appendFile, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, VirtualTimeScheduler } from 'rxjs';
import type { SpoolEvent } from '../../src/spool/events';
import { resolveSpoolOptions, type SpoolOptionsInput } from '../../src/spool/options';
import { DiskServeSpool } from '../../src/spool/serveSpool';
import { SpoolStore } from '../../src/spool/store';
import { MARKER_NAME, ROOT_NAME } from '../../src/spool/layout';
import { aBatch, append, drain, SOCKET } from './support';

let dir: string;
const stores: SpoolStore[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-'));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close().catch(() => undefined)));
  await rm(dir, { recursive: true, force: true });
});

async function openStore(extra: Partial<SpoolOptionsInput> = {}, events: SpoolEvent[] = []): Promise<SpoolStore> {
  // No free-space floor unless a test sets one: the machine's disk is not this test's subject.
  const store = await SpoolStore.open(resolveSpoolOptions({ dir, minFreeBytes: 0, minFreeRatio: 0, ...extra }), (e) => events.push(e));
  stores.push(store);
  return store;
}

const rootOf = (): string => join(dir, ROOT_NAME);
async function segmentFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(rootOf())) if (d !== MARKER_NAME) for (const f of await readdir(join(rootOf(), d))) out.push(join(rootOf(), d, f));
  return out;
}

describe('SpoolStore', () => {
  it('hands batches back oldest first, across segments, and returns to empty', async () => {
    const store = await openStore({ segmentBytes: 600 });
    const spool = store.serve(SOCKET);
    for (let n = 1; n <= 7; n += 1) expect(await append(spool, aBatch(n))).toBe('spooled');
    expect(spool.pending).toBe(7);
    expect(spool.counts().oldestMs).toBe(1_001);
    expect((await segmentFiles()).length).toBeGreaterThan(2);
    expect(await drain(spool, 3)).toEqual([1, 2, 3]);
    await append(spool, aBatch(8));
    expect(await drain(spool)).toEqual([4, 5, 6, 7, 8]);
    expect(spool.counts()).toEqual({ bytes: 0, batches: 0, oldestMs: undefined });
    expect(store.totalBytes).toBe(0);
    expect(await segmentFiles()).toEqual([]);
    // and it takes batches again after being empty
    await append(spool, aBatch(9));
    expect(await drain(spool)).toEqual([9]);
  });

  it('writes its directories 0700 and its files 0600: they hold tokens', async () => {
    const store = await openStore();
    await append(store.serve(SOCKET), aBatch(1));
    expect((await stat(rootOf())).mode & 0o777).toBe(0o700);
    const [file] = await segmentFiles();
    expect((await stat(join(file as string, '..'))).mode & 0o777).toBe(0o700);
    expect((await stat(file as string)).mode & 0o777).toBe(0o600);
  });

  it('after a restart delivers only what was not delivered, and says what it found', async () => {
    const first = await openStore({ segmentBytes: 600 });
    const spool = first.serve(SOCKET);
    for (let n = 1; n <= 5; n += 1) await append(spool, aBatch(n));
    await append(first.serve('/run/pg/b.sock'), aBatch(50, '/run/pg/b.sock'));
    expect(await drain(spool, 2)).toEqual([1, 2]);
    await first.close();

    const events: SpoolEvent[] = [];
    const second = await openStore({}, events);
    expect(second.recovered().map((s) => s.socketPath).sort()).toEqual([SOCKET, '/run/pg/b.sock']);
    const again = second.serve(SOCKET);
    expect(again).toBe(second.recovered().find((s) => s.socketPath === SOCKET));
    await second.recovery();
    expect(again.pending).toBe(3);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_recovered', socket: SOCKET, serve: 'BLUE', batches: 3, frames: 12, skipped_bytes: 0 }));
    const entry = await firstValueFrom(again.next());
    expect(entry?.batch.serve.target.token.reveal()).toBe('t.secret'); // what posts it later needs
    await firstValueFrom(again.ack(entry!));
    expect(await drain(again)).toEqual([4, 5]);
    expect(await drain(second.serve('/run/pg/b.sock'))).toEqual([50]);
  });

  it('cuts a torn tail at start-up, counts it, and appends after it readably', async () => {
    const first = await openStore();
    const spool = first.serve(SOCKET);
    await append(spool, aBatch(1));
    await append(spool, aBatch(2));
    await first.close();
    const [file] = await segmentFiles();
    const whole = (await stat(file as string)).size;
    await appendFile(file as string, Buffer.from('PGS2\0\0\x01\0 half a record'));

    const events: SpoolEvent[] = [];
    const second = await openStore({}, events);
    await second.recovery();
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_recovered', level: 'warn', batches: 2, skipped_bytes: 22, damaged_segments: 1 }));
    expect((await stat(file as string)).size).toBe(whole);
    const again = second.serve(SOCKET);
    await append(again, aBatch(3));
    expect(await drain(again)).toEqual([1, 2, 3]);
  });

  it('gives up the rest of a segment found damaged while reading, says so, and goes on', async () => {
    const events: SpoolEvent[] = [];
    const store = await openStore({}, events);
    const spool = store.serve(SOCKET);
    for (let n = 1; n <= 3; n += 1) await append(spool, aBatch(n));
    const [file] = await segmentFiles();
    const handle = await open(file as string, 'r+');
    await handle.write(Buffer.from('XXXX'), 0, 4, 265 + 100); // inside batch 2's body
    await handle.close();
    expect(await drain(spool)).toEqual([1]);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_damaged', socket: SOCKET, offset: 265, batches: 2 }));
    expect(spool.pending).toBe(0);
    await append(spool, aBatch(4));
    expect(await drain(spool)).toEqual([4]);
  });

  it('removes a spool with nothing left to deliver', async () => {
    const first = await openStore();
    await append(first.serve(SOCKET), aBatch(1));
    await first.close();
    const [file] = await segmentFiles();
    await writeFile(file as string, 'not a spool at all');
    const events: SpoolEvent[] = [];
    const second = await openStore({}, events);
    await second.recovery();
    expect(second.recovered()).toEqual([]);
    expect(await readdir(rootOf())).toEqual([MARKER_NAME]);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_recovered', batches: 0, skipped_bytes: 18 }));
  });

  it('refuses batches past the cap, says so once, and takes them again when there is room', async () => {
    const events: SpoolEvent[] = [];
    const store = await openStore({ capBytes: 600 }, events) // two records of 265 bytes;
    const spool = store.serve(SOCKET);
    expect(await append(spool, aBatch(1))).toBe('spooled');
    expect(await append(spool, aBatch(2))).toBe('spooled');
    expect(await append(spool, aBatch(3))).toBe('full');
    expect(await append(spool, aBatch(4))).toBe('full');
    expect(events.filter((e) => e.kind === 'spool_full')).toEqual([expect.objectContaining({ reason: 'cap' })]);
    expect(await drain(spool)).toEqual([1, 2]);
    expect(await append(spool, aBatch(5))).toBe('spooled');
    expect(events.filter((e) => e.kind === 'spool_resumed')).toHaveLength(1);
  });

  it('refuses batches when the file system is below the free-space floor', async () => {
    const events: SpoolEvent[] = [];
    const store = await openStore({ minFreeBytes: Number.MAX_SAFE_INTEGER }, events);
    expect(await append(store.serve(SOCKET), aBatch(1))).toBe('floor');
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_full', reason: 'floor' }));
  });

  it('turns a disk error into "off" with one log line, never a throw', async () => {
    const events: SpoolEvent[] = [];
    const store = await openStore({}, events);
    // The serve's directory cannot be made: a file is where the spool's directory was.
    await rm(rootOf(), { recursive: true });
    await writeFile(rootOf(), 'in the way');
    try {
      const spool = store.serve(SOCKET);
      expect(await append(spool, aBatch(1))).toBe('off');
      expect(await append(spool, aBatch(2))).toBe('off');
      expect(spool.pending).toBe(0);
      expect(events.filter((e) => e.kind === 'spool_failed')).toEqual([expect.objectContaining({ op: 'append', code: 'ENOTDIR' })]);
    } finally {
      await rm(rootOf(), { force: true });
    }
  });
});

describe('SpoolStore on the scheduler', () => {
  it('syncs every serve each syncIntervalMs of its scheduler, and leaves no timer behind once closed', async () => {
    const vt = new VirtualTimeScheduler();
    const store = await SpoolStore.open(resolveSpoolOptions({ dir, minFreeBytes: 0, minFreeRatio: 0, syncIntervalMs: 1_000 }), () => undefined, vt);
    stores.push(store);
    const spool = store.serve(SOCKET);
    expect(await append(spool, aBatch(1))).toBe('spooled');
    const synced = jest.spyOn(DiskServeSpool.prototype, 'sync');
    try {
      vt.maxFrames = 999;
      vt.flush();
      expect(synced).not.toHaveBeenCalled();
      vt.maxFrames = 2_000;
      vt.flush();
      expect(synced).toHaveBeenCalledTimes(2);
      await store.close();
      expect(vt.actions).toEqual([]);
    } finally {
      synced.mockRestore();
    }
  });
});
