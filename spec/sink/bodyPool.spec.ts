// BodyPool hands out views of a few reusable buffers and takes back only its own.
import { BodyPool } from '../../src/sink/bodyPool';

describe('BodyPool', () => {
  it('reuses a buffer once it is given back, as a view of the size asked for', () => {
    const pool = new BodyPool(1024, 2);
    const a = pool.take(600);
    expect(a.length).toBe(600);
    pool.give(a);
    expect(pool.freeCount).toBe(1);
    const b = pool.take(700);
    expect(b.length).toBe(700);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.freeCount).toBe(0);
  });

  it('hands out distinct memory to bodies that are out at the same time', () => {
    const pool = new BodyPool(64, 4);
    const a = pool.take(64).fill(1);
    const b = pool.take(64).fill(2);
    expect(a.buffer).not.toBe(b.buffer);
    expect(a.every((x) => x === 1)).toBe(true);
  });

  it('allocates bodies larger than its buffers and never takes them back', () => {
    const pool = new BodyPool(64, 4);
    const big = pool.take(65);
    expect(big.length).toBe(65);
    pool.give(big);
    expect(pool.freeCount).toBe(0);
  });

  it('ignores buffers it did not make, and one given twice', () => {
    const pool = new BodyPool(64, 4);
    pool.give(Buffer.alloc(64));
    pool.give(Buffer.allocUnsafeSlow(64));
    expect(pool.freeCount).toBe(0);
    const a = pool.take(40);
    pool.give(a);
    pool.give(a);
    expect(pool.freeCount).toBe(1);
  });

  it('gives small bodies memory of their own: a pooled buffer would pin its whole capacity', () => {
    const pool = new BodyPool(1024, 2);
    const small = pool.take(511);
    expect(small.buffer.byteLength).toBe(511);
    pool.give(small);
    expect(pool.freeCount).toBe(0);
    expect(pool.take(512).buffer.byteLength).toBe(1024);
  });

  it('keeps at most maxFree unused buffers', () => {
    const pool = new BodyPool(64, 2);
    const bodies = [pool.take(32), pool.take(32), pool.take(32)];
    for (const b of bodies) pool.give(b);
    expect(pool.freeCount).toBe(2);
  });
});
