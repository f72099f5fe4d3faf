// openServeDb against real directories: accept, reject, start-up, and what stops start-up.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { firstValueFrom } from 'rxjs';
import { openServeDb, ServeDbError, type ServeDb, type ServeDbEvent, type ServeSet } from '../../src/servedb';
import {
  acceptSettled,
  collectEvents,
  existsIn,
  LOGPLEX_URL,
  makeTempDir,
  openWithoutEvents,
  removeTempDir,
  SERVE_URL,
  servesText,
  socketPath,
  TOKEN,
  URL_PASSWORD,
  waitFor,
  writeAtomically,
} from './support';

let dir: string;
const opened: ServeDb[] = [];

beforeEach(async () => {
  dir = await makeTempDir();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()));
  await removeTempDir(dir);
});

async function open(options: { logplexUrl?: URL | undefined } = {}): Promise<ServeDb> {
  const db = await openWithoutEvents(dir, 'logplexUrl' in options ? options.logplexUrl : LOGPLEX_URL);
  opened.push(db);
  return db;
}

const exists = (name: string): Promise<boolean> => existsIn(dir, name);
/** What outcome$ tells a subscriber at once: start-up's events, in order. */
function startupOutcomes(db: ServeDb): ServeDbEvent[] {
  const seen: ServeDbEvent[] = [];
  db.outcome$.subscribe((event) => seen.push(event)).unsubscribe();
  return seen;
}
const read = (name: string): Promise<string> => readFile(path.join(dir, name), 'utf8');
const currentSet = (db: ServeDb): Promise<ServeSet> => firstValueFrom(db.serveSet$);

function twoServes(): string {
  return servesText([
    { i: 'id-1', t: TOKEN, p: socketPath(dir, 1), name: 'BLUE' },
    { i: 'id-2', url: SERVE_URL, p: socketPath(dir, 2) },
  ]);
}

describe('accept', () => {
  it('applies a valid serves.new, copies it to serves.loaded as is, removes serves.new, serves.rej and last_error', async () => {
    const text = twoServes();
    await writeAtomically(dir, 'serves.new', text);
    await writeFile(path.join(dir, 'serves.rej'), 'old');
    await writeFile(path.join(dir, 'last_error'), 'old\n');
    const db = await open();

    expect(await read('serves.loaded')).toBe(text);
    expect(await exists('serves.new')).toBe(false);
    expect(await exists('serves.rej')).toBe(false);
    expect(await exists('last_error')).toBe(false);
    const set = await currentSet(db);
    expect(set.map((s) => [s.identity, s.socketPath, s.name, s.target.url, s.target.user, s.target.token.reveal()])).toEqual([
      ['id-1', socketPath(dir, 1), 'BLUE', 'https://logplex.example.com/logs', 'token', TOKEN],
      ['id-2', socketPath(dir, 2), undefined, 'https://logplex.example.com/logs', 'token', URL_PASSWORD],
    ]);
    expect(await firstValueFrom(db.outcome$)).toEqual({
      kind: 'serves_accepted',
      level: 'info',
      dir,
      file: 'serves.new',
      serves: 2,
      added: 2,
      removed: 0,
      updated: 0,
      changed: true,
      reason: 'start',
    });
    // No directory litter: only what the spec lists.
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(dir)).sort()).toEqual(['lock', 'serves.loaded']);
  });

  it('writes serves.loaded 0600 (it holds tokens), even from a serves.new others may read', async () => {
    await writeAtomically(dir, 'serves.new', twoServes());
    await chmod(path.join(dir, 'serves.new'), 0o644);
    await open();
    expect((await stat(path.join(dir, 'serves.loaded'))).mode & 0o777).toBe(0o600);
  });

  it('makes serves.loaded, serves.rej and last_error left readable by an older version 0600 at start-up', async () => {
    await writeAtomically(dir, 'serves.loaded', twoServes());
    await writeFile(path.join(dir, 'serves.rej'), '{"serves": 1}');
    await writeFile(path.join(dir, 'last_error'), 'serves: expected a list\n');
    for (const name of ['serves.loaded', 'serves.rej', 'last_error']) await chmod(path.join(dir, name), 0o644);
    await open();
    for (const name of ['serves.loaded', 'serves.rej', 'last_error']) {
      expect({ name, mode: (await stat(path.join(dir, name))).mode & 0o777 }).toEqual({ name, mode: 0o600 });
    }
  });

  it('ignores unknown keys, and writes them through to serves.loaded untouched', async () => {
    const text = servesText([{ i: 'a', t: TOKEN, p: socketPath(dir, 1), owner: 'team-x' }], { generation: 12 });
    await writeAtomically(dir, 'serves.new', text);
    const db = await open();
    expect(await currentSet(db)).toHaveLength(1);
    expect(await read('serves.loaded')).toBe(text);
  });

  it('emits a new set only when the content changed, and says unchanged accepts are unchanged', async () => {
    await writeAtomically(dir, 'serves.new', twoServes());
    const db = await open();
    const sets: ServeSet[] = [];
    db.serveSet$.subscribe((set) => sets.push(set));
    const events = collectEvents(db);

    // Same serves, different order and formatting: accepted, but nothing new to apply.
    const [a, b] = JSON.parse(twoServes()).serves;
    await writeAtomically(dir, 'serves.new', JSON.stringify({ serves: [b, a] }));
    db.rescan();
    await waitFor(() => events.length === 2, 5000, 'the second accept');
    expect(events[1]).toMatchObject({ kind: 'serves_accepted', changed: false, serves: 2, reason: 'rescan' });
    expect(sets).toHaveLength(1);

    // A changed token is a change.
    await writeAtomically(dir, 'serves.new', servesText([{ i: 'id-1', t: 't.other', p: socketPath(dir, 1) }]));
    db.rescan();
    await waitFor(() => events.length === 3, 5000, 'the third accept');
    expect(events[2]).toMatchObject({ kind: 'serves_accepted', changed: true, serves: 1, added: 0, removed: 1, updated: 1 });
    await waitFor(() => sets.length === 2, 5000, 'the set to be applied (it follows the accept)');
    expect(sets[1]?.[0]?.target.token.reveal()).toBe('t.other');
  });
});

describe('reject', () => {
  // What last_error should say: a string (DIR stands for the directory), or one made from it.
  const invalid: ReadonlyArray<readonly [string, (dir: string) => string, string | ((dir: string) => string)]> = [
    ['not JSON', () => `{"serves": [{"i": "a", "t": "${TOKEN}"`, "serves.new is not valid JSON at line 1, column 47: Expected ',' or '}' after property value"],
    ['the wrong shape', () => `{"serves": {"t": "${TOKEN}"}}`, 'serves: expected a list, got an object'],
    ['a mistyped key', (d) => servesText([{ i: 'a', t: TOKEN, p: socketPath(d, 1) }, { i: 'b', t: TOKEN, p: 42 }]), 'serves[1].p: expected a string, got 42'],
    ['a missing key', (d) => servesText([{ t: TOKEN, p: socketPath(d, 1) } as never]), 'serves[0].i: missing, expected a string'],
    ['both t and url', (d) => servesText([{ i: 'a', t: TOKEN, url: SERVE_URL, p: socketPath(d, 1) }]), 'serves[0]: needs exactly one of "t" (token) or "url", got both'],
    ['a relative p', () => servesText([{ i: 'a', t: TOKEN, p: 'a.sock' }]), 'serves[0].p: must be an absolute path, got "a.sock"'],
    ['a duplicate p', (d) => servesText([{ i: 'a', t: TOKEN, p: socketPath(d, 1) }, { i: 'b', url: SERVE_URL, p: socketPath(d, 1) }]),
      (d) => `serves[1].p: ${JSON.stringify(socketPath(d, 1))} is also used by serves[0]`],
    ['a bad URL', (d) => servesText([{ i: 'a', url: `https://token:${URL_PASSWORD}@bad host/`, p: socketPath(d, 1) }]),
      'serves[0].url: not a valid http(s) URL, expected e.g. https://token:<token>@logplex.example.com/logs'],
    ['a URL without credentials', (d) => servesText([{ i: 'a', url: 'https://logplex.example.com/logs', p: socketPath(d, 1) }]),
      'serves[0].url: needs credentials, like https://token:<token>@logplex.example.com/logs'],
  ];

  it.each(invalid)('renames serves.new with %s to serves.rej and says why in last_error', async (_what, make, expectedOf) => {
    const before = servesText([{ i: 'old', t: 't.old', p: socketPath(dir, 9) }]);
    await writeAtomically(dir, 'serves.loaded', before);
    const text = make(dir);
    const expected = typeof expectedOf === 'string' ? expectedOf.replace('DIR', dir) : expectedOf(dir);
    await writeAtomically(dir, 'serves.new', text);
    const db = await open();

    expect(await exists('serves.new')).toBe(false);
    expect(await read('serves.rej')).toBe(text);
    const lastError = await read('last_error');
    expect(lastError).toBe(`${expected}\n`);
    expect(lastError).not.toContain('SECRET');
    // Nothing else changed: the old set is still in force and serves.loaded is untouched.
    expect(await read('serves.loaded')).toBe(before);
    expect((await currentSet(db)).map((s) => s.identity)).toEqual(['old']);
    const event = startupOutcomes(db).at(-1);
    expect(event).toMatchObject({ kind: 'serves_rejected', level: 'error', problems: 1, serves: 1, error: expected });
    expect(JSON.stringify(event)).not.toContain('SECRET');
  });

  it('refuses a `t` serve when no LOGPLEX_URL is configured', async () => {
    await writeAtomically(dir, 'serves.new', servesText([{ i: 'a', t: TOKEN, p: socketPath(dir, 1) }]));
    await open({ logplexUrl: undefined });
    expect(await read('last_error')).toBe('serves[0].t: a token needs LOGPLEX_URL to be set (or give this serve a "url" instead)\n');
  });

  it('after a reject, a valid serves.new is accepted and the stale serves.rej and last_error go', async () => {
    await writeAtomically(dir, 'serves.new', '{"serves": 1}');
    const db = await open();
    const events = collectEvents(db);
    expect(await exists('serves.rej')).toBe(true);
    expect(await exists('last_error')).toBe(true);

    const text = twoServes();
    await writeAtomically(dir, 'serves.new', text);
    db.rescan();
    await waitFor(() => events.some((e) => e.kind === 'serves_accepted'), 5000, 'the accept');
    await acceptSettled(dir, text);
    expect(await exists('serves.new')).toBe(false);
    expect(await exists('serves.rej')).toBe(false);
    expect(await exists('last_error')).toBe(false);
    expect(await currentSet(db)).toHaveLength(2);
  });

  it('a second reject replaces serves.rej and last_error', async () => {
    await writeAtomically(dir, 'serves.new', '{"serves": 1}');
    const db = await open();
    const events = collectEvents(db);
    await writeAtomically(dir, 'serves.new', '[]');
    db.rescan();
    await waitFor(() => events.length === 2, 5000, 'the second reject');
    expect(await read('serves.rej')).toBe('[]');
    expect(await read('last_error')).toBe('serves.new: expected an object like {"serves": [...]}, got a list\n');
  });
});

describe('start-up', () => {
  it('starts from serves.loaded, and says so', async () => {
    const text = twoServes();
    await writeAtomically(dir, 'serves.loaded', text);
    const db = await open();
    expect((await currentSet(db)).map((s) => s.identity)).toEqual(['id-1', 'id-2']);
    expect(await read('serves.loaded')).toBe(text);
    expect(startupOutcomes(db)).toEqual([
      { kind: 'serves_accepted', level: 'info', dir, file: 'serves.loaded', serves: 2, added: 2, removed: 0, updated: 0, changed: true, reason: 'start' },
    ]);
  });

  it('starts from serves.loaded, then applies serves.new before resolving', async () => {
    await writeAtomically(dir, 'serves.loaded', twoServes());
    const next = servesText([{ i: 'id-3', t: TOKEN, p: socketPath(dir, 3) }]);
    await writeAtomically(dir, 'serves.new', next);
    const db = await open();
    const sets: ServeSet[] = [];
    db.serveSet$.subscribe((set) => sets.push(set));
    expect(sets.map((set) => set.map((s) => s.identity))).toEqual([['id-3']]); // only the current set is replayed
    expect(await read('serves.loaded')).toBe(next);
    expect(startupOutcomes(db)).toEqual([
      expect.objectContaining({ kind: 'serves_accepted', file: 'serves.loaded', serves: 2, added: 2, reason: 'start' }),
      expect.objectContaining({ kind: 'serves_accepted', file: 'serves.new', added: 1, removed: 2, reason: 'start' }),
    ]);
  });

  it('keeps serves.loaded when the serves.new found at start-up is invalid', async () => {
    await writeAtomically(dir, 'serves.loaded', twoServes());
    await writeAtomically(dir, 'serves.new', '{');
    const db = await open();
    expect(await currentSet(db)).toHaveLength(2);
    expect(await exists('serves.rej')).toBe(true);
  });

  it('treats an empty directory as a fresh database', async () => {
    const db = await open();
    expect(await currentSet(db)).toEqual([]);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual(['lock']); // ours while open
  });

  it('removes temporary files a crash left behind', async () => {
    await writeFile(path.join(dir, '.serves.loaded.123.0.tmp'), '{"serves": [');
    await open();
    expect(await exists('.serves.loaded.123.0.tmp')).toBe(false);
  });

  it('refuses a directory that does not exist, saying which and what to do', async () => {
    const missing = path.join(dir, 'nope');
    const err = await openServeDb({ dir: missing, logplexUrl: undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServeDbError);
    expect(err).toMatchObject({ code: 'SERVEDB_MISSING_DIR' });
    expect((err as Error).message).toBe(
      `serve database ${missing} does not exist: create it (mkdir -p ${missing}) or point the dir option at the right directory`,
    );
  });

  it('refuses a directory others may write, or on a way others may change, changing nothing', async () => {
    // Whoever writes serves.new decides where logs and tokens go.
    const shared = path.join(dir, 'shared');
    await mkdir(shared);
    for (const mode of [0o777, 0o1777, 0o775]) {
      await chmod(shared, mode);
      const err = await openServeDb({ dir: shared, logplexUrl: undefined }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServeDbError);
      expect(err).toMatchObject({ code: 'SERVEDB_UNSAFE' });
      expect((err as Error).message).toBe(
        `serve database ${shared} is writable by group or others (mode 0${mode.toString(8)}), so another user could choose where logs and tokens go: chmod go-w ${shared}`,
      );
      expect((await stat(shared)).mode & 0o7777).toBe(mode);
    }

    // Ours and closed, but inside a directory others may write: they could move it away and put theirs in its place.
    const inner = path.join(shared, 'db');
    await mkdir(inner, { mode: 0o700 });
    await chmod(shared, 0o777);
    const err = await openServeDb({ dir: inner, logplexUrl: undefined }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVEDB_UNSAFE' });
    expect((err as Error).message).toContain(`${shared} is writable by group or others (mode 0777)`);
    expect((err as Error).message).toContain(`chmod go-w ${shared}`);
    await chmod(shared, 0o1777); // sticky, as /tmp is: only an entry's owner may move it
    await (await openServeDb({ dir: inner, logplexUrl: undefined })).close();
  });

  it('refuses a file where the directory should be', async () => {
    const file = path.join(dir, 'file');
    await writeFile(file, '');
    const err = await openServeDb({ dir: file, logplexUrl: undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServeDbError);
    expect(err).toMatchObject({ code: 'SERVEDB_NOT_A_DIR' });
    expect((err as Error).message).toBe(`serve database ${file} is not a directory: point the dir option at a directory`);
  });

  it.each([
    ['not JSON', '{"serves": [', 'serves.loaded is not valid JSON at line 1, column 13: Unexpected end of JSON input'],
    ['empty', '', 'serves.loaded is empty; write {"serves": []} for no serves'],
    ['invalid', servesText([{ i: 'a', t: TOKEN, p: 'rel.sock' }]), 'serves[0].p: must be an absolute path, got "rel.sock"'],
  ])('refuses a corrupt serves.loaded (%s), saying which file and why', async (_what, text, why) => {
    await writeFile(path.join(dir, 'serves.loaded'), text);
    await writeAtomically(dir, 'serves.new', twoServes());
    const err = await openServeDb({ dir, logplexUrl: LOGPLEX_URL }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServeDbError);
    expect(err).toMatchObject({ code: 'SERVEDB_CORRUPT_LOADED' });
    const message = (err as Error).message;
    expect(message).toBe(
      `cannot start from ${path.join(dir, 'serves.loaded')}: ${why}. Fix it, or move it away to start with no serves (serves.new is applied next)`,
    );
    expect(message).not.toContain('SECRET');
    expect(message).not.toContain('\n');
    // Start-up touched nothing: serves.new waits for a collector that can start.
    expect(await exists('serves.new')).toBe(true);
  });

  it('refuses a serves.loaded with `t` serves when LOGPLEX_URL is no longer set', async () => {
    await writeAtomically(dir, 'serves.loaded', twoServes());
    const err = await openServeDb({ dir, logplexUrl: undefined }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVEDB_CORRUPT_LOADED' });
    expect((err as Error).message).toContain('serves[0].t: a token needs LOGPLEX_URL to be set');
  });

  it('refuses a serves.loaded that cannot be read', async () => {
    await mkdir(path.join(dir, 'serves.loaded'));
    const err = await openServeDb({ dir, logplexUrl: undefined }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVEDB_UNREADABLE' });
    expect((err as Error).message).toMatch(/^cannot read .*serves\.loaded \(EISDIR: illegal operation on a directory\): check its permissions$/);
  });
});

describe('close', () => {
  it('completes both observables and stops looking', async () => {
    const db = await open();
    let setsDone = false;
    let outcomesDone = false;
    db.serveSet$.subscribe({ complete: () => (setsDone = true) });
    db.outcome$.subscribe({ complete: () => (outcomesDone = true) });
    await db.close();
    expect(setsDone && outcomesDone).toBe(true);
    await writeAtomically(dir, 'serves.new', twoServes());
    db.rescan();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await exists('serves.new')).toBe(true);
  });
});
