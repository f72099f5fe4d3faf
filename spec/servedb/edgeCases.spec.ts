// Serve database edge cases an operator will hit: a serves.new
// written while the previous one is being rejected, a FIFO at serves.new, sets that are valid but
// likely mistakes, and a second collector on the same directory.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { firstValueFrom } from 'rxjs';
import { openServeDb, type ServeDb, type ServeDbEvent } from '../../src/servedb';
import { lockServeDb } from '../../src/servedb/lock';
import { acceptSettled, collectEvents, existsIn, LOGPLEX_URL, makeTempDir, openWithoutEvents, removeTempDir, servesText, socketPath, TOKEN, waitFor, writeAtomically } from './support';

let dir: string;
const opened: ServeDb[] = [];

beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(opened.splice(0).map((db) => db.close()));
  await removeTempDir(dir);
});

async function open(): Promise<ServeDb> {
  const db = await openWithoutEvents(dir, LOGPLEX_URL);
  opened.push(db);
  return db;
}

const exists = (name: string): Promise<boolean> => existsIn(dir, name);
const read = (name: string): Promise<string> => readFile(path.join(dir, name), 'utf8');
const ofKind = <K extends ServeDbEvent['kind']>(events: ServeDbEvent[], kind: K): Extract<ServeDbEvent, { kind: K }>[] =>
  events.filter((e): e is Extract<ServeDbEvent, { kind: K }> => e.kind === kind);

describe('the last serves.new written wins', () => {
  it('keeps a valid serves.new written while an invalid one is being rejected', async () => {
    const valid = servesText([{ i: 'a', t: TOKEN, p: socketPath(dir, 1) }]);
    // The operator's next file lands at the worst moment: while last_error is being written for
    // the invalid one (the pass then used to rename whatever serves.new was by then to serves.rej).
    // The module object store.ts calls through (an `import * as` namespace here would be a frozen copy).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fsPromises = require('node:fs/promises') as typeof import('node:fs/promises');
    const realRename = fsPromises.rename;
    let landed = false;
    jest.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => {
      if (!landed && path.basename(String(to)) === 'last_error') {
        landed = true;
        await writeAtomically(dir, 'serves.new', valid);
      }
      return realRename(from, to);
    });
    await writeAtomically(dir, 'serves.new', '{"serves": 1}');
    const db = await open(); // the start-up pass rejects the invalid file
    const events = collectEvents(db);
    expect(landed).toBe(true);
    expect(await read('serves.rej')).toBe('{"serves": 1}'); // what was rejected is what was read

    db.rescan();
    await waitFor(() => ofKind(events, 'serves_accepted').length > 0, 5000, 'the valid file to be accepted');
    await acceptSettled(dir, valid);
    expect(await read('serves.loaded')).toBe(valid);
    expect((await firstValueFrom(db.serveSet$)).map((s) => s.identity)).toEqual(['a']);
  });
});

describe('serves.new that is not a regular file', () => {
  it('rejects a FIFO without blocking on it, so start-up (and shutdown) go on', async () => {
    execFileSync('mkfifo', [path.join(dir, 'serves.new')]);
    // Before the fix this never resolved: open() of a FIFO waits for a writer.
    let timer: NodeJS.Timeout | undefined;
    const db = await Promise.race([
      open(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('openServeDb blocked on the FIFO')), 15_000))),
    ]).finally(() => clearTimeout(timer));
    const event = await firstValueFrom(db.outcome$);
    expect(event).toMatchObject({ kind: 'serves_rejected', error: expect.stringContaining('serves.new is a FIFO (named pipe), not a regular file') });
    expect(await read('last_error')).toContain('FIFO');
    expect(await exists('serves.new')).toBe(false);
    await db.close(); // and shutdown is not held either
  });
});

describe('valid sets that are likely mistakes are accepted, with a warning', () => {
  it('warns when {"serves": []} replaces a set that had serves', async () => {
    await writeAtomically(dir, 'serves.loaded', servesText([{ i: 'a', t: TOKEN, p: socketPath(dir, 1) }, { i: 'b', t: TOKEN, p: socketPath(dir, 2) }]));
    await writeAtomically(dir, 'serves.new', '{"serves": []}');
    const db = await open();
    const events = collectEvents(db);
    expect(await firstValueFrom(db.serveSet$)).toEqual([]);
    const warnings = ofKind(events, 'serves_warning');
    expect(warnings).toEqual([
      {
        kind: 'serves_warning',
        level: 'warn',
        dir,
        warning: 'serves.new lists no serves: all 2 serves stopped and their sockets removed; their logs are no longer collected',
      },
    ]);
  });

  it('warns when two serves expect the same identity, naming them', async () => {
    await writeAtomically(
      dir,
      'serves.new',
      servesText([
        { i: 'same', t: TOKEN, p: socketPath(dir, 1) },
        { i: 'other', t: TOKEN, p: socketPath(dir, 2) },
        { i: 'same', t: 't.second', p: socketPath(dir, 3) },
      ]),
    );
    const db = await open();
    const events = collectEvents(db);
    expect(await firstValueFrom(db.serveSet$)).toHaveLength(3);
    const [warning, ...more] = ofKind(events, 'serves_warning');
    expect(more).toEqual([]);
    expect(warning?.warning).toMatch(/^serves\[0\], serves\[2\]: the same identity \(i\) on more than one socket/);
    expect(JSON.stringify(events)).not.toContain(TOKEN);
  });
});

describe('one collector per serve database', () => {
  const DIST_LOCK = path.resolve(__dirname, '../../dist/servedb/lock.js');
  /** Another process holding the lock (dist/, as the daemon would), until killed. */
  async function holderProcess(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(DIST_LOCK)}).lockServeDb(process.argv[1]).then(() => { process.stdout.write('locked\\n'); setInterval(() => {}, 1000); })`, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (c: Buffer) => (c.toString().includes('locked') ? resolve() : undefined));
      child.once('exit', () => reject(new Error('the holder exited before it locked')));
    });
    return child;
  }
  const killed = async (child: ChildProcess): Promise<void> => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };

  it('refuses a second collector on the same directory, naming the holder, and lets one start once the first closed', async () => {
    const first = await open();
    expect((await lstat(path.join(dir, 'lock'))).isSocket()).toBe(true);
    const err = await openServeDb({ dir, logplexUrl: LOGPLEX_URL, watchEvents: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVEDB_LOCKED' });
    expect((err as Error).message).toBe(
      `serve database ${dir} is in use by another collector (this process already has it open, per ${path.join(dir, 'lock')}): stop it first, or point the dir option at another directory`,
    );
    await first.close();
    expect(await exists('lock')).toBe(false); // released
    await open();
    expect((await readdir(dir)).filter((n) => n.startsWith('.lock') || n.includes('stale'))).toEqual([]);
  });

  it('refuses while another process holds it, naming its PID; takes it once that process was killed -9', async () => {
    const holder = await holderProcess();
    try {
      const err = await openServeDb({ dir, logplexUrl: LOGPLEX_URL, watchEvents: false }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SERVEDB_LOCKED' });
      expect((err as Error).message).toContain(`PID ${holder.pid} is running`);
    } finally {
      await killed(holder);
    }
    // The kernel closed its socket: the file it left refuses connections, and is taken over.
    const db = await open();
    const events = collectEvents(db);
    expect(ofKind(events, 'serve_db_lock_taken_over')).toEqual([{ kind: 'serve_db_lock_taken_over', level: 'warn', dir, stale_pid: 0 }]);
  });

  it('takes over a lock file naming a live process that is no collector (a reboot), or this very process (PID 1 again in a container)', async () => {
    const unrelated = spawn('sleep', ['30']);
    try {
      await writeFile(path.join(dir, 'lock'), `${unrelated.pid}\n`);
      const db = await open();
      expect(ofKind(collectEvents(db), 'serve_db_lock_taken_over')).toEqual([
        { kind: 'serve_db_lock_taken_over', level: 'warn', dir, stale_pid: unrelated.pid },
      ]);
      await db.close();
    } finally {
      unrelated.kill();
    }
    await writeFile(path.join(dir, 'lock'), `${process.pid}\n`);
    const db = await open();
    expect(ofKind(collectEvents(db), 'serve_db_lock_taken_over')).toEqual([{ kind: 'serve_db_lock_taken_over', level: 'warn', dir, stale_pid: process.pid }]);
  });

  it('locks a serve database whose path is longer than a socket address holds', async () => {
    const deep = path.join(dir, 'd'.repeat(120));
    await mkdir(deep);
    const first = await lockServeDb(deep);
    await expect(lockServeDb(deep)).rejects.toMatchObject({ code: 'SERVEDB_LOCKED', message: expect.stringContaining('this process already has it open') });
    // An embedder chose the directory with an option, not the environment: the way out names it.
    await expect(lockServeDb(deep, 'serveDbDir')).rejects.toMatchObject({ message: expect.stringContaining('point serveDbDir at another directory') });
    await first.release();
    await (await lockServeDb(deep)).release();
    expect(await readdir(deep)).toEqual([]);
  });

  it('takes over a lock whose process is gone, and says so', async () => {
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    await writeFile(path.join(dir, 'lock'), `${gone.pid}\n`);
    const db = await open();
    expect((await lstat(path.join(dir, 'lock'))).isSocket()).toBe(true);
    const events = collectEvents(db);
    expect(ofKind(events, 'serve_db_lock_taken_over')).toEqual([
      { kind: 'serve_db_lock_taken_over', level: 'warn', dir, stale_pid: gone.pid },
    ]);
  });
});
