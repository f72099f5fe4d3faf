// The on-disk steps on their own: a serves.new replaced between our read and our clean-up must
// survive (the writer's newer file is not ours to remove), and writes leave no temporary files.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { acceptServes, readServesNew, rejectServes, writeFileDurably } from '../../src/servedb/store';
import { makeTempDir, removeTempDir, writeAtomically } from './support';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await removeTempDir(dir);
});

const read = (name: string): Promise<string> => readFile(path.join(dir, name), 'utf8');

async function readNew(): Promise<Extract<Awaited<ReturnType<typeof readServesNew>>, { kind: 'new' }>> {
  const file = await readServesNew(dir);
  if (file.kind !== 'new') throw new Error('expected serves.new');
  return file;
}

it('reads an absent serves.new as absent', async () => {
  expect(await readServesNew(dir)).toEqual({ kind: 'absent' });
});

it('accept keeps a serves.new that was replaced after it was read, and says so', async () => {
  await writeAtomically(dir, 'serves.new', 'first');
  const first = await readNew();
  await writeAtomically(dir, 'serves.new', 'second');
  expect(await acceptServes(dir, first.text, first.stamp, first.mode)).toBe('superseded');
  expect(await read('serves.loaded')).toBe('first');
  expect(await read('serves.new')).toBe('second');
});

it('reject leaves a serves.new that was replaced after it was read, and says so', async () => {
  await writeAtomically(dir, 'serves.new', 'first');
  const first = await readNew();
  await writeAtomically(dir, 'serves.new', 'second');
  expect(await rejectServes(dir, 'bad', first.stamp)).toBe('superseded');
  expect(await read('serves.new')).toBe('second');
  expect((await readdir(dir)).sort()).toEqual(['serves.new']);
});

it('reject writes last_error ending with exactly one newline', async () => {
  await writeAtomically(dir, 'serves.new', 'x');
  const file = await readNew();
  expect(await rejectServes(dir, 'line 1\nline 2', file.stamp)).toBe('done');
  expect(await read('last_error')).toBe('line 1\nline 2\n');
  expect(await read('serves.rej')).toBe('x');
});

it('durable writes replace the file and leave no temporary file behind, even when they fail', async () => {
  await writeFile(path.join(dir, 'serves.loaded'), 'old');
  await writeFileDurably(dir, 'serves.loaded', 'new', 0o600);
  expect(await read('serves.loaded')).toBe('new');
  await expect(writeFileDurably(path.join(dir, 'missing'), 'serves.loaded', 'x', 0o600)).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await readdir(dir)).toEqual(['serves.loaded']);
});
