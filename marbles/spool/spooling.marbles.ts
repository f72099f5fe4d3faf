// drainSpool on the virtual clock: a serve's spool posted oldest first, one batch at a time, each
// acked once settled; the walk stops when told to or when a post leaves its batch. The outbox
// that runs it (marbles/sink/outbox.marbles.ts) is where spooling and draining are decided.
import { of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Secret } from '../../src/secret';
import { drainSpool, type DrainOutcome } from '../../src/spool/drain';
import type { SpooledBatch } from '../../src/spool/format';
import { MemorySpool } from './memorySpool';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const spooled = (name: string): SpooledBatch => ({
  serve: { socketPath: '/run/a.sock', identity: 'i', name: undefined, target: { url: 'http://127.0.0.1:1/', user: 'token', token: new Secret('t') } },
  body: Buffer.from(name),
  gzipped: true,
  frameCount: 1,
  logFrames: 1,
  dropCount: 0,
  lostCount: 0,
  createdAtMs: 0,
});
const names = (batches: readonly SpooledBatch[]): string[] => batches.map((b) => b.body.toString());

describe('drainSpool', () => {
  it('completes at once on an empty spool; unsubscribing leaves the batch in flight pending', () => {
    const spool = new MemorySpool();
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(drainSpool(spool, () => cold<DrainOutcome>('-(s|)', { s: 'settled' }))).toBe('|');
    });
    spool.append(spooled('x')).subscribe();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const post = cold<DrainOutcome>('-----(s|)', { s: 'settled' });
      expectObservable(drainSpool(spool, () => post), '^-!').toBe('--');
      expectSubscriptions(post.subscriptions).toBe('^-!');
    });
    expect(spool.acked).toEqual([]);
    expect(spool.pending).toBe(1);
  });

  it('posts oldest first, one at a time, and emits each batch once acked', () => {
    const spool = new MemorySpool();
    for (const n of ['a', 'b', 'c']) spool.append(spooled(n)).subscribe();
    newScheduler().run(({ cold, expectObservable }) => {
      expectObservable(drainSpool(spool, () => cold<DrainOutcome>('--(s|)', { s: 'settled' }))).toBe('--a-b-(c|)', { a: spooled('a'), b: spooled('b'), c: spooled('c') });
    });
    expect(names(spool.acked)).toEqual(['a', 'b', 'c']);
  });

  it('stops before taking the next batch when more() says no, and when a post leaves its batch', () => {
    const spool = new MemorySpool();
    for (const n of ['a', 'b', 'c']) spool.append(spooled(n)).subscribe();
    let more = true;
    newScheduler().run(({ cold, expectObservable }) => {
      const post = (batch: SpooledBatch) => {
        more = batch.body.toString() === 'a'; // told to stop while b is in flight
        return cold<DrainOutcome>('--(s|)', { s: 'settled' });
      };
      expectObservable(drainSpool(spool, post, () => more)).toBe('--a-(b|)', { a: spooled('a'), b: spooled('b') });
    });
    expect(names(spool.acked)).toEqual(['a', 'b']);
    newScheduler().run(({ expectObservable }) => {
      expectObservable(drainSpool(spool, () => of<DrainOutcome>('left'))).toBe('|');
    });
    expect(names(spool.acked)).toEqual(['a', 'b']); // c left: still pending, for a later drain
    expect(spool.pending).toBe(1);
  });
});
