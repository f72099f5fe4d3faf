// The spool against a hostile local user and a careless operator, on real directories: it works
// only in a directory of its own, refuses one others could write, never follows a planted
// symlink, never reads (or posts) a file it did not write, skips what it cannot read without
// turning itself off, and opens without reading what earlier runs left.
import { chmod, chown, lchown, link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { VirtualTimeScheduler } from 'rxjs';
import { join } from 'node:path';
import { SpoolOpenError } from '../../src/spool/errors';
import { encodeRecord } from '../../src/spool/format';
import type { SpoolEvent } from '../../src/spool/events';
import { MARKER_NAME, ROOT_NAME, segmentName, serveDirName, withDeadline } from '../../src/spool/layout';
import { resolveSpoolOptions } from '../../src/spool/options';
import { SpoolStore } from '../../src/spool/store';
import { aBatch, append, drain, SOCKET } from './support';

const asRoot = process.getuid?.() === 0;
const rootOnly = asRoot ? it : it.skip; // chown to another user needs root
const OTHER_UID = 12345;

let dir: string;
const stores: SpoolStore[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-trust-'));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close().catch(() => undefined)));
  await rm(dir, { recursive: true, force: true });
});

async function openStore(spoolDir: string, events: SpoolEvent[] = []): Promise<SpoolStore> {
  const store = await SpoolStore.open(resolveSpoolOptions({ dir: spoolDir, minFreeBytes: 0, minFreeRatio: 0 }), (e) => events.push(e));
  stores.push(store);
  return store;
}

const openError = (spoolDir: string): Promise<unknown> => openStore(spoolDir).then(() => undefined, (err: unknown) => err);
const serveDir = (spoolDir: string, socket = SOCKET): string => join(spoolDir, ROOT_NAME, serveDirName(socket));
const skipped = (events: readonly SpoolEvent[]) => events.filter((e) => e.kind === 'spool_entry_skipped');

/** A spool left by an earlier run: batches 1..n of SOCKET, pending. Returns its serve directory. */
async function leftBehind(spoolDir: string, n: number): Promise<string> {
  const store = await openStore(spoolDir);
  const spool = store.serve(SOCKET);
  for (let i = 1; i <= n; i += 1) expect(await append(spool, aBatch(i))).toBe('spooled');
  await store.close();
  return serveDir(spoolDir);
}

describe('the spool owns only what it creates', () => {
  it('works in a directory of its own: what else is in --spool-dir, and its mode, stay as they were', async () => {
    await mkdir(join(dir, 'unrelated/deeper'), { recursive: true });
    await writeFile(join(dir, 'unrelated/deeper/keep.txt'), 'precious');
    await writeFile(join(dir, 'notes.txt'), 'mine');
    await chmod(dir, 0o755);
    const store = await openStore(dir);
    await store.recovery();
    await append(store.serve(SOCKET), aBatch(1));
    await store.close();
    await openStore(dir).then((s) => s.recovery()); // a restart, which used to remove every folder without batches
    expect(await readFile(join(dir, 'unrelated/deeper/keep.txt'), 'utf8')).toBe('precious');
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
    expect((await readdir(dir)).sort()).toEqual(['notes.txt', ROOT_NAME, 'unrelated']);
    expect(await readFile(join(dir, ROOT_NAME, MARKER_NAME), 'utf8')).toMatch(/^pg-logplexcollector spool/);
  });

  it('says so when an earlier version\'s spools are in --spool-dir, and leaves them alone', async () => {
    const legacy = join(dir, '3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d');
    await mkdir(legacy);
    await writeFile(join(legacy, '0000000000000001.seg'), 'PGSP');
    const events: SpoolEvent[] = [];
    await openStore(dir, events);
    expect(events).toContainEqual({ kind: 'spool_legacy_found', level: 'warn', dir, directories: 1 });
    expect(await readdir(legacy)).toEqual(['0000000000000001.seg']);
  });

  it('makes a missing --spool-dir, and refuses one under a file with a line that says what to fix', async () => {
    await openStore(join(dir, 'a/b/c'));
    expect((await stat(join(dir, 'a/b/c', ROOT_NAME))).isDirectory()).toBe(true);
    await writeFile(join(dir, 'file'), 'x');
    const err = await openError(join(dir, 'file/spool'));
    expect(err).toBeInstanceOf(SpoolOpenError);
    expect(err).toMatchObject({ code: 'SPOOL_DIR_UNUSABLE' });
    expect((err as Error).message).toBe(
      `spool: cannot use ${join(dir, 'file/spool')} (ENOTDIR: a part of the path is a file, not a directory): fix it, or choose another spool directory (--spool-dir)`,
    );
  });

  it('refuses a --spool-dir others may write (unless sticky, like /tmp), chmodding nothing', async () => {
    const open = join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    const err = await openError(open);
    expect(err).toMatchObject({ code: 'SPOOL_DIR_UNSAFE' });
    expect((err as Error).message).toBe(
      `spool: ${open} is writable by group or others (mode 0777), so another user could plant or take spooled batches (which hold tokens): chmod go-w ${open}`,
    );
    expect((await stat(open)).mode & 0o7777).toBe(0o777);
    expect(await readdir(open)).toEqual([]);
    await chmod(open, 0o1777);
    await openStore(open);
  });

  it('refuses a --spool-dir inside a directory others may write, unless that one is sticky', async () => {
    const open = join(dir, 'open');
    await mkdir(join(open, 'spool'), { recursive: true });
    await chmod(open, 0o777); // another user could move spool/ away and put a link to theirs in its place
    const err = await openError(join(open, 'spool'));
    expect(err).toMatchObject({ code: 'SPOOL_DIR_UNSAFE' });
    expect((err as Error).message).toBe(
      `spool: ${open} is writable by group or others (mode 0777), who could move ${join(open, 'spool')} away and put another in its place, so another user could plant or take spooled batches (which hold tokens): chmod go-w ${open}`,
    );
    expect(await readdir(join(open, 'spool'))).toEqual([]);
    await chmod(open, 0o1777);
    await openStore(join(open, 'spool'));
  });

  it('refuses its own directory when it is a symlink, open to others, or holds no marker', async () => {
    const root = join(dir, ROOT_NAME);
    await mkdir(join(dir, 'elsewhere'));
    await symlink(join(dir, 'elsewhere'), root);
    expect(await openError(dir)).toMatchObject({ code: 'SPOOL_DIR_UNSAFE' });
    await rm(root);

    await openStore(dir).then((s) => s.close());
    await chmod(root, 0o770);
    expect(await openError(dir)).toMatchObject({ code: 'SPOOL_DIR_UNSAFE', message: expect.stringContaining(`chmod 0700 ${root}`) });
    expect((await stat(root)).mode & 0o777).toBe(0o770);
    await chmod(root, 0o700);

    await rm(join(root, MARKER_NAME));
    await writeFile(join(root, 'someone-elses'), 'x');
    expect(await openError(dir)).toMatchObject({ code: 'SPOOL_DIR_FOREIGN' });
    expect(await readdir(root)).toEqual(['someone-elses']);
  });

  rootOnly('refuses a --spool-dir symlink another user made, and its own directory when another user owns it', async () => {
    const victim = join(dir, 'home');
    await mkdir(victim);
    await writeFile(join(victim, 'id_ed25519'), 'key');
    const link = join(dir, 'spool-link');
    await symlink(victim, link);
    await lchown(link, OTHER_UID, OTHER_UID);
    expect(await openError(link)).toMatchObject({ code: 'SPOOL_DIR_UNSAFE' });
    expect(await readdir(victim)).toEqual(['id_ed25519']);

    // A parent another user owns: they could rename the spool away and link theirs in.
    const theirs = join(dir, 'theirs');
    await mkdir(join(theirs, 'spool'), { recursive: true });
    await chown(theirs, OTHER_UID, OTHER_UID);
    expect(await openError(join(theirs, 'spool'))).toMatchObject({ code: 'SPOOL_DIR_UNSAFE', message: expect.stringContaining(`${theirs} belongs to uid ${OTHER_UID}`) });
    expect(await readdir(join(theirs, 'spool'))).toEqual([]);
    // A link on the way that another user made, even to a safe place.
    await symlink(victim, join(dir, 'via'));
    await lchown(join(dir, 'via'), OTHER_UID, OTHER_UID);
    await mkdir(join(victim, 'spool'));
    expect(await openError(join(dir, 'via', 'spool'))).toMatchObject({ code: 'SPOOL_DIR_UNSAFE', message: expect.stringContaining(`${join(dir, 'via')} is a symlink made by uid ${OTHER_UID}`) });
    expect(await readdir(join(victim, 'spool'))).toEqual([]);

    await openStore(dir).then((s) => s.close());
    await chown(join(dir, ROOT_NAME), OTHER_UID, OTHER_UID);
    expect(await openError(dir)).toMatchObject({ code: 'SPOOL_DIR_UNSAFE', message: expect.stringContaining(`belongs to uid ${OTHER_UID}`) });
  });
});

describe('the spool trusts only files it wrote', () => {
  it('never follows a planted symlink: the file it points to is neither read nor truncated', async () => {
    const serve = await leftBehind(dir, 1);
    const secret = join(dir, 'shadow');
    await writeFile(secret, 'root:secret:...', { mode: 0o600 });
    await symlink(secret, join(serve, segmentName(7)));
    const events: SpoolEvent[] = [];
    const store = await openStore(dir, events);
    await store.recovery();
    expect(await drain(store.serve(SOCKET))).toEqual([1]);
    expect(await readFile(secret, 'utf8')).toBe('root:secret:...');
    expect(skipped(events)).toEqual([
      { kind: 'spool_entry_skipped', level: 'warn', path: join(serve, segmentName(7)), reason: 'symlink', code: undefined },
    ]);
    expect(store.skippedEntries).toBe(1);
  });

  it('never reads a segment open to others or linked elsewhere', async () => {
    const serve = await leftBehind(dir, 1);
    await writeFile(join(serve, segmentName(5)), encodeRecord(aBatch(5, SOCKET, 100, 'http://attacker.example/')), { mode: 0o644 });
    await writeFile(join(dir, 'outside'), encodeRecord(aBatch(6, SOCKET, 100, 'http://attacker.example/')), { mode: 0o600 });
    await link(join(dir, 'outside'), join(serve, segmentName(6)));
    const events: SpoolEvent[] = [];
    const store = await openStore(dir, events);
    await store.recovery();
    expect(await drain(store.serve(SOCKET))).toEqual([1]);
    expect(skipped(events).map((e) => e.reason)).toEqual(['open_mode', 'linked']);
    expect((await stat(join(dir, 'outside'))).size).toBeGreaterThan(0);
  });

  rootOnly('never posts a segment another user wrote, however valid it looks', async () => {
    const serve = await leftBehind(dir, 1);
    const planted = join(serve, segmentName(9));
    await writeFile(planted, encodeRecord(aBatch(9, SOCKET, 100, 'http://attacker.example/')), { mode: 0o600 });
    await chown(planted, OTHER_UID, OTHER_UID);
    const events: SpoolEvent[] = [];
    const store = await openStore(dir, events);
    await store.recovery();
    expect(await drain(store.serve(SOCKET))).toEqual([1]);
    expect(skipped(events).map((e) => e.reason)).toEqual(['foreign_owner']);
    expect(await readdir(serve)).toContain(segmentName(9)); // not ours to remove
  });

  it('skips and counts an entry it cannot read (a directory named like a segment) and stays on', async () => {
    const serve = await leftBehind(dir, 2);
    await mkdir(join(serve, segmentName(3)));
    await mkdir(join(dir, ROOT_NAME, 'not-a-serve'));
    const events: SpoolEvent[] = [];
    const store = await openStore(dir, events);
    await store.recovery();
    const spool = store.serve(SOCKET);
    expect(await drain(spool)).toEqual([1, 2]);
    expect(await append(spool, aBatch(4))).toBe('spooled'); // after an outage that follows, it spools
    expect(await drain(spool)).toEqual([4]);
    expect(events.filter((e) => e.kind === 'spool_failed')).toEqual([]);
    expect(skipped(events).map((e) => [e.path, e.reason])).toEqual([
      [join(dir, ROOT_NAME, 'not-a-serve'), 'unknown_name'],
      [join(serve, segmentName(3)), 'not_regular'],
    ]);
    expect(store.skippedEntries).toBe(2);
    expect((await stat(join(serve, segmentName(3)))).isDirectory()).toBe(true);
  });
});

describe('opening the spool', () => {
  it('resolves before reading what earlier runs left; the recovery follows in the background', async () => {
    await leftBehind(dir, 3);
    const events: SpoolEvent[] = [];
    const store = await openStore(dir, events);
    // Nothing of the segments was read yet: no recovery said, and the found spool counts as busy
    // so that its drainer starts and live batches queue behind it.
    expect(events.filter((e) => e.kind === 'spool_recovered')).toEqual([]);
    const [found] = store.recovered();
    expect(found?.socketPath).toBe(SOCKET);
    expect(found?.pending).toBeGreaterThan(0);
    expect(await append(store.serve(SOCKET), aBatch(4))).toBe('spooled'); // appends need not wait
    expect(await drain(store.serve(SOCKET))).toEqual([1, 2, 3, 4]);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_recovered', socket: SOCKET, batches: 3 }));
  });

  it('gives every file-system step a deadline, on the scheduler', async () => {
    // A minute: only the virtual clock can bring it within this test.
    const never = new Promise<never>(() => undefined);
    const vt = new VirtualTimeScheduler();
    const late = withDeadline(60_000, 'making /hung/mount', never, vt);
    let settled = false;
    late.catch(() => (settled = true));
    vt.maxFrames = 59_999;
    vt.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    vt.maxFrames = 60_000;
    vt.flush();
    await expect(late).rejects.toMatchObject({
      code: 'SPOOL_OPEN_TIMEOUT',
      message: 'spool: making /hung/mount did not finish within 60000 ms: check that file system (a hung mount?), or choose another spool directory (--spool-dir)',
    });
  });

  it('refuses /proc/nope at once rather than never finishing', async () => {
    expect(await openError('/proc/nope')).toMatchObject({ code: 'SPOOL_DIR_UNUSABLE', message: expect.stringContaining('/proc/nope (ENOENT') });
  });
});

