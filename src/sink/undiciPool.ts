// undici's Pool without the rest of undici. The package root (index.js) eagerly loads fetch,
// WebSocket, EventSource, the cache stores, the mocks and every interceptor: ~110 modules that
// the collector never uses: the root costs about twice the memory of this deep path
// (docs/benchmarks.md, *Memory*).
//
// Robustness: undici has no "exports" map, so deep paths resolve; lib/dispatcher/pool.js,
// lib/dispatcher/dispatcher.js and lib/api/index.js exist from 7.0.0 to 7.30.2 (package.json
// pins the exact version). The request()/stream()/... methods are not defined by the classes:
// undici's index.js mixes lib/api into Dispatcher.prototype, so we do the same (idempotent if
// something else loads the root too). Should a later undici move these files or change that
// arrangement, we fall back to the package root: more memory, same behaviour.
//
// Loaded on the first post, not at start: a collector with nothing to send yet (an idle daemon)
// does not hold undici's memory at all. Loading it takes a few
// milliseconds, once, in the first flush.
import type { Pool as UndiciPool } from 'undici';

export type PoolSource = 'deep' | 'root';

function loadPool(): { Pool: typeof UndiciPool; source: PoolSource } {
  try {
    const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
    const api = require('undici/lib/api/index.js') as Record<string, unknown>;
    if (typeof api.request === 'function' && Pool.prototype instanceof (Dispatcher as unknown as new () => object)) {
      Object.assign(Dispatcher.prototype, api); // what undici's index.js does
      if (typeof Pool.prototype.request === 'function') return { Pool, source: 'deep' };
    }
  } catch {
    // layout changed: fall through to the root
  }
  return { Pool: (require('undici') as typeof import('undici')).Pool, source: 'root' };
}

let loaded: { Pool: typeof UndiciPool; source: PoolSource } | undefined;

/** undici's Pool, loaded on the first call; `source` says which way (a spec checks it is 'deep', so a silent fallback is noticed). */
export function undiciPool(): { readonly Pool: typeof UndiciPool; readonly source: PoolSource } {
  loaded ??= loadPool();
  return loaded;
}

export type Pool = UndiciPool;
