// BodyPool hands out full-size buffers it can reuse for big bodies, and takes back only its own.
import { BodyPool } from '../../src/sink/bodyPool';

describe('BodyPool', () => {
  it('reuses a full-size buffer once it is given back, through any view of it', () => {
    const pool = new BodyPool(1024, 2);
    const a = pool.take(1024);
    expect(a.length).toBe(1024);
    pool.give(a.subarray(100, 700)); // a body is a view of its buffer
    expect(pool.freeCount).toBe(1);
    const b = pool.take(1024);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(1024);
    expect(pool.freeCount).toBe(0);
  });

  it('hands out distinct memory to bodies that are out at the same time', () => {
    const pool = new BodyPool(64, 4);
    const a = pool.take(64).fill(1);
    const b = pool.take(64).fill(2);
    expect(a.buffer).not.toBe(b.buffer);
    expect(a.every((x) => x === 1)).toBe(true);
  });

  it('hands a whole pooled buffer for half its capacity or more', () => {
    const pool = new BodyPool(64, 4);
    const half = pool.take(32);
    expect(half.length).toBe(64);
    pool.give(half);
    expect(pool.freeCount).toBe(1);
    expect(pool.take(50).buffer).toBe(half.buffer);
  });

  it('gives smaller and bigger sizes memory of their own, and never takes it back', () => {
    const pool = new BodyPool(64, 4);
    for (const size of [65, 31, 16]) {
      const other = pool.take(size);
      expect(other.length).toBe(size);
      expect(other.buffer.byteLength).toBe(size);
      pool.give(other);
      expect(pool.freeCount).toBe(0);
    }
  });

  it('ignores buffers it did not make, and one given twice', () => {
    const pool = new BodyPool(64, 4);
    pool.give(Buffer.alloc(64));
    pool.give(Buffer.allocUnsafeSlow(64));
    expect(pool.freeCount).toBe(0);
    const a = pool.take(64);
    pool.give(a);
    pool.give(a);
    expect(pool.freeCount).toBe(1);
  });

  it('keeps at most maxFree unused buffers', () => {
    const pool = new BodyPool(64, 2);
    const bodies = [pool.take(64), pool.take(64), pool.take(64)];
    for (const b of bodies) pool.give(b);
    expect(pool.freeCount).toBe(2);
  });
});
