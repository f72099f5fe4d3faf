// A reader of serves.loaded never sees a torn file, however often it is replaced: large
// serves files are accepted over and over while another loop reads serves.loaded as fast as it
// can, and every read must be complete JSON.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { openServeDb, type ServeDb } from '../../src/servedb';
import { collectEvents, LOGPLEX_URL, makeTempDir, removeTempDir, servesText, TOKEN, waitFor, writeAtomically } from './support';

const SERVES = 2000;
const ROUNDS = 12;

let dir: string;
let db: ServeDb | undefined;
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await db?.close();
  await removeTempDir(dir);
});

/** About 200 KB: big enough that a non-atomic write would be seen half-done. */
function bigServes(round: number): string {
  const serves = Array.from({ length: SERVES }, (_, n) => ({
    i: `identity-${round}-${n}`,
    t: TOKEN,
    p: path.join(dir, `s${n}.sock`),
    name: `SERVE-${n}`,
    bookkeeping: 'x'.repeat(40),
  }));
  return servesText(serves, { round });
}

it('replaces serves.loaded atomically while a reader reads it in a tight loop', async () => {
  await writeAtomically(dir, 'serves.new', bigServes(0));
  db = await openServeDb({ dir, logplexUrl: LOGPLEX_URL, watchEvents: false, pollIntervalMs: 60_000 });
  const events = collectEvents(db); // the start-up accept is replayed: one event so far

  let stop = false;
  let reads = 0;
  const roundsSeen = new Set<number>();
  const reader = (async () => {
    while (!stop) {
      const text = await readFile(path.join(dir, 'serves.loaded'), 'utf8');
      const parsed = JSON.parse(text) as { round: number; serves: unknown[] }; // throws on a torn file
      expect(parsed.serves).toHaveLength(SERVES);
      roundsSeen.add(parsed.round);
      reads++;
    }
  })();

  try {
    for (let round = 1; round <= ROUNDS; round++) {
      await writeAtomically(dir, 'serves.new', bigServes(round));
      db.rescan();
      await waitFor(() => events.length === round + 1, 5000, `accept of round ${round}`);
      expect(events[round]).toMatchObject({ kind: 'serves_accepted', changed: true, serves: SERVES });
    }
    // serves_accepted is said before the set is applied and copied: the last copy follows it.
    const loadedRound = async (): Promise<number> => (JSON.parse(await readFile(path.join(dir, 'serves.loaded'), 'utf8')) as { round: number }).round;
    await waitFor(async () => (await loadedRound()) === ROUNDS, 5000, 'the last copy to serves.loaded');
  } finally {
    stop = true;
    await reader;
  }
  // The reader must really have raced the writer, or the test proves nothing.
  expect(reads).toBeGreaterThan(ROUNDS);
  expect(roundsSeen.size).toBeGreaterThan(1);
  expect(JSON.parse(await readFile(path.join(dir, 'serves.loaded'), 'utf8'))).toMatchObject({ round: ROUNDS });
});
