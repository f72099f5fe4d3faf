// The on-disk steps on their own: serves.new is taken (renamed to a private name) before it is
// read, so what is accepted or rejected is what was read and a newer serves.new is never touched;
// anything but a regular file is refused unopened; files that hold tokens are 0600; writes leave
// no temporary files.
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  acceptServes,
  recoverAfterCrash,
  rejectServes,
  takeServesNew,
  writeFileDurably,
  type TakenServes,
} from '../../src/servedb/store';
import { makeTempDir, removeTempDir, writeAtomically } from './support';
import { withUmask } from '../support/umask';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await removeTempDir(dir);
});

const read = (name: string): Promise<string> => readFile(path.join(dir, name), 'utf8');
const modeOf = async (name: string): Promise<number> => (await lstat(path.join(dir, name))).mode & 0o777;

async function take(): Promise<Extract<TakenServes, { kind: 'new' }>> {
  const file = await takeServesNew(dir);
  if (file.kind !== 'new') throw new Error(`expected serves.new, got ${file.kind}`);
  return file;
}

it('takes an absent serves.new as absent', async () => {
  expect(await takeServesNew(dir)).toEqual({ kind: 'absent' });
});

it('accept leaves a serves.new written after the take alone', async () => {
  await writeAtomically(dir, 'serves.new', 'first');
  const first = await take();
  await writeAtomically(dir, 'serves.new', 'second');
  await acceptServes(dir, first.text, first.taken);
  expect(await read('serves.loaded')).toBe('first');
  expect((await readdir(dir)).sort()).toEqual(['serves.loaded', 'serves.new']);
  expect(await read('serves.new')).toBe('second');
});

it('reject moves aside what was read, and leaves a serves.new written after the take alone', async () => {
  await writeAtomically(dir, 'serves.new', 'first');
  const first = await take();
  await writeAtomically(dir, 'serves.new', 'second');
  await rejectServes(dir, 'bad', first.taken);
  expect(await read('serves.rej')).toBe('first');
  expect(await read('serves.new')).toBe('second');
  expect((await readdir(dir)).sort()).toEqual(['last_error', 'serves.new', 'serves.rej']);
});

it('reject writes last_error ending with exactly one newline', async () => {
  await writeAtomically(dir, 'serves.new', 'x');
  const file = await take();
  await rejectServes(dir, 'line 1\nline 2', file.taken);
  expect(await read('last_error')).toBe('line 1\nline 2\n');
  expect(await read('serves.rej')).toBe('x');
});

it('writes serves.loaded, serves.rej and last_error 0600 (they hold tokens), whatever serves.new was', async () => {
  const world = async (): Promise<Extract<TakenServes, { kind: 'new' }>> => {
    await writeAtomically(dir, 'serves.new', 'text');
    execFileSync('chmod', ['0644', path.join(dir, 'serves.new')]);
    return take();
  };
  const accepted = await world();
  await acceptServes(dir, accepted.text, accepted.taken);
  expect(await modeOf('serves.loaded')).toBe(0o600);
  const rejected = await world();
  await rejectServes(dir, 'bad', rejected.taken);
  expect(await modeOf('serves.rej')).toBe(0o600);
  expect(await modeOf('last_error')).toBe(0o600);
});

it('refuses a FIFO at serves.new without opening it, and moves it aside', async () => {
  execFileSync('mkfifo', [path.join(dir, 'serves.new')]);
  const file = await takeServesNew(dir); // before the fix: open() blocked here forever
  expect(file).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('a FIFO (named pipe), not a regular file') });
  if (file.kind !== 'unusable') throw new Error('unreachable');
  await rejectServes(dir, file.problem, file.taken);
  expect((await lstat(path.join(dir, 'serves.rej'))).isFIFO()).toBe(true);
  expect(await read('last_error')).toContain('FIFO');
});

it('refuses a directory, and a symbolic link to a FIFO or to nothing', async () => {
  await mkdir(path.join(dir, 'serves.new'));
  expect(await takeServesNew(dir)).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('is a directory') });
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  execFileSync('ln', ['-s', path.join(dir, 'fifo'), path.join(dir, 'serves.new')]);
  expect(await takeServesNew(dir)).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('symbolic link to a FIFO') });
  execFileSync('ln', ['-s', path.join(dir, 'missing'), path.join(dir, 'serves.new')]);
  expect(await takeServesNew(dir)).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('symbolic link to nothing') });
});

it('after a crash, puts a taken serves.new back, unless a newer one was written since', async () => {
  await writeAtomically(dir, 'serves.new', 'taken before the crash');
  await take();
  await recoverAfterCrash(dir);
  expect(await read('serves.new')).toBe('taken before the crash');
  await take();
  await writeAtomically(dir, 'serves.new', 'newer');
  await recoverAfterCrash(dir);
  expect(await readdir(dir)).toEqual(['serves.new']);
  expect(await read('serves.new')).toBe('newer');
});

it('durable writes replace the file with exactly the mode asked, and leave no temporary file behind, even when they fail', async () => {
  await writeFile(path.join(dir, 'serves.loaded'), 'old');
  await withUmask(0o077, () => writeFileDurably(dir, 'serves.loaded', 'new', 0o640));
  expect(await read('serves.loaded')).toBe('new');
  expect((await stat(path.join(dir, 'serves.loaded'))).mode & 0o777).toBe(0o640);
  await expect(writeFileDurably(path.join(dir, 'missing'), 'serves.loaded', 'x', 0o600)).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await readdir(dir)).toEqual(['serves.loaded']);
});
