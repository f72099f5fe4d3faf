// When the collector looks: promptly on a file event, and by the poll when events are off.
// Timing assertions are deadlines only ("before the poll could have done it"), never exact.
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { openServeDb, type ServeDb } from '../../src/servedb';
import { asyncScheduler } from 'rxjs';
import { watchServesNew, type DirWatcher, type LookReason } from '../../src/servedb/watch';
import { collectEvents, LOGPLEX_URL, makeTempDir, removeTempDir, servesText, socketPath, TOKEN, waitFor, writeAtomically } from './support';

let dir: string;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(async () => {
  dir = await makeTempDir();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await removeTempDir(dir);
});

async function open(options: { watchEvents: boolean; pollIntervalMs: number }): Promise<ServeDb> {
  const db = await openServeDb({ dir, logplexUrl: LOGPLEX_URL, ...options });
  cleanups.push(() => db.close());
  return db;
}

const oneServe = (n: number): string => servesText([{ i: `id-${n}`, t: TOKEN, p: socketPath(dir, n) }]);

describe('watching serves.new', () => {
  it('applies a new serves.new within a second of it appearing, with a 60 s poll', async () => {
    const db = await open({ watchEvents: true, pollIntervalMs: 60_000 });
    const events = collectEvents(db);
    await writeAtomically(dir, 'serves.new', oneServe(1));
    await waitFor(() => events.some((e) => e.kind === 'serves_accepted'), 1000, 'the file event to apply serves.new');
    expect(events).toEqual([expect.objectContaining({ kind: 'serves_accepted', reason: 'file', serves: 1 })]);

    // And again for a replacement: change events count too.
    await writeAtomically(dir, 'serves.new', oneServe(2));
    await waitFor(() => events.length === 2, 1000, 'the second file event');
    expect(events[1]).toMatchObject({ kind: 'serves_accepted', reason: 'file', added: 1, removed: 1 });
  });

  it('still applies serves.new by polling when file events are off', async () => {
    const db = await open({ watchEvents: false, pollIntervalMs: 200 });
    const events = collectEvents(db);
    await writeAtomically(dir, 'serves.new', oneServe(1));
    await waitFor(() => events.length > 0, 3000, 'the poll to apply serves.new');
    expect(events).toEqual([expect.objectContaining({ kind: 'serves_accepted', reason: 'poll' })]);
  });

  it('does not look at serves.new again by itself when file events are off and the poll is long', async () => {
    const db = await open({ watchEvents: false, pollIntervalMs: 60_000 });
    const events = collectEvents(db);
    await writeAtomically(dir, 'serves.new', oneServe(1));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(events).toEqual([]); // proves the two tests above depend on events and on the poll
    db.rescan();
    await waitFor(() => events.length > 0, 1000, 'rescan() to apply serves.new');
    expect(events[0]).toMatchObject({ reason: 'rescan' });
  });
});

describe('watchServesNew', () => {
  async function watchLooks(): Promise<LookReason[]> {
    const watch = watchServesNew({ dir, pollIntervalMs: 60_000, watchEvents: true, settleMs: 100, readyTimeoutMs: 10_000, scheduler: asyncScheduler, onWatchError: () => undefined });
    const looks: LookReason[] = [];
    const subscription = watch.look$.subscribe((reason) => looks.push(reason));
    cleanups.push(async () => {
      subscription.unsubscribe();
      await watch.close();
    });
    await watch.ready;
    return looks;
  }

  it('ignores our own writes (serves.loaded, serves.rej, last_error, temporary files), so it cannot loop', async () => {
    const looks = await watchLooks();
    for (const name of ['serves.loaded', 'serves.rej', 'last_error', '.serves.loaded.1.0.tmp', 'serves.new.tmp']) {
      await writeFile(path.join(dir, name), 'x');
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(looks).toEqual([]);
    await writeFile(path.join(dir, 'serves.new'), 'x');
    await waitFor(() => looks.length > 0, 1000, 'a look for serves.new');
    expect(looks).toEqual(['file']);
  });

  it('settles a burst of writes into one look', async () => {
    const looks = await watchLooks();
    for (let i = 0; i < 5; i++) await writeFile(path.join(dir, 'serves.new'), `x${i}`);
    await waitFor(() => looks.length > 0, 1000, 'a look');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(looks).toEqual(['file']);
  });
});

describe('a watcher that never gets ready', () => {
  /** A stand-in for chokidar that emits nothing until told to (or ever). */
  class StuckWatcher extends EventEmitter implements DirWatcher {
    async close(): Promise<void> {
      this.removeAllListeners();
    }
  }

  it('does not hold up start-up: after readyTimeoutMs it says so and the poll carries on', async () => {
    const errors: string[] = [];
    const started = Date.now();
    const watch = watchServesNew({
      dir, pollIntervalMs: 60_000, watchEvents: true, settleMs: 0, readyTimeoutMs: 150, scheduler: asyncScheduler,
      onWatchError: (err) => errors.push(err.message),
      startWatcher: () => new StuckWatcher(),
    });
    cleanups.push(() => watch.close());
    await watch.ready;
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(errors).toEqual(['not ready after 150 ms']);
  });

  it('goes on at once when the watcher fails before it is ready (e.g. out of inotify watches)', async () => {
    const stuck = new StuckWatcher();
    stuck.on('error', () => undefined); // chokidar's own listener reports it; here nothing does
    const watch = watchServesNew({
      dir, pollIntervalMs: 60_000, watchEvents: true, settleMs: 0, readyTimeoutMs: 60_000, scheduler: asyncScheduler,
      onWatchError: () => undefined,
      startWatcher: () => stuck,
    });
    cleanups.push(() => watch.close());
    setTimeout(() => stuck.emit('error', Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' })), 20);
    await watch.ready; // would wait the whole minute otherwise, and time the test out
  });
});
