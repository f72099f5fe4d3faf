// undici's Pool is loaded by deep path to save memory (src/sink/undiciPool.ts); this notices an
// undici upgrade that silently sends it back to the package root.
import { Pool as RootPool } from 'undici';
import { undiciPool } from '../../src/sink/undiciPool';

describe('undiciPool', () => {
  it('loads Pool by deep path, with the request API mixed in', () => {
    const { Pool, source } = undiciPool();
    expect(source).toBe('deep');
    expect(typeof Pool.prototype.request).toBe('function');
    expect(Pool).toBe(RootPool); // the same class as the package root's, not a copy
  });
});
