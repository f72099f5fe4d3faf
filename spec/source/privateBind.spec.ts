// A listener's private bind directory costs a descriptor for the listener's life only where
// someone else could rename it. Holding one everywhere took two descriptors per serve: 10,000
// serves under a 20,000 open-file limit stopped listening part-way, and the descriptor budget
// (which counted one per listener) never knew why.
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { Server } from 'node:net';
import { privateBind } from '../../src/source/privateBind';
import { SocketDirectories } from '../../src/source/socketDirectory';
import { tempDir } from './support';

const openDescriptors = (): number => readdirSync('/proc/self/fd').length;

async function listenPrivately(target: string): Promise<{ server: Server; holds: boolean; dispose: () => void }> {
  const bind = privateBind(target, new SocketDirectories());
  const server = new Server();
  await new Promise<void>((done) => server.listen(bind.bindPath, done));
  bind.place(target, 0o777, undefined);
  return { server, holds: bind.holdsDirectory, dispose: () => bind.dispose() };
}

type Listening = Awaited<ReturnType<typeof listenPrivately>>;

describe('privateBind', () => {
  let tmp: ReturnType<typeof tempDir>;
  let listeners: Listening[];
  beforeEach(() => {
    tmp = tempDir();
    listeners = [];
  });
  afterEach(async () => {
    await closeAll(listeners); // also when an expectation failed: no server left open
    tmp.remove();
  });

  async function closeAll(ls: Listening[]): Promise<void> {
    for (const l of ls.splice(0)) {
      await new Promise<void>((done) => l.server.close(() => done()));
      l.dispose();
    }
  }

  it('keeps no directory open where only we can rename entries of the parent', async () => {
    const before = openDescriptors();
    for (let i = 0; i < 40; i++) listeners.push(await listenPrivately(tmp.path(`s${i}.sock`)));
    expect(openDescriptors() - before).toBeLessThanOrEqual(40 + 2); // one per listener (was two)
    expect(listeners.every((l) => !l.holds)).toBe(true);
    await closeAll(listeners);
    expect(readdirSync(tmp.dir).filter((n) => n.startsWith('.plc-'))).toEqual([]);
  });

  it('keeps it open where others may rename it (a parent others can write, not sticky)', async () => {
    const shared = tmp.path('shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const l = await listenPrivately(`${shared}/a.sock`);
    listeners.push(l);
    expect(l.holds).toBe(true);
  });
});
