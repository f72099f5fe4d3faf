// undici's Pool without the rest of undici. The package root (index.js) eagerly loads fetch,
// WebSocket, EventSource, the cache stores, the mocks and every interceptor: ~110 modules that
// the collector never uses. Measured on Node 20.20 / undici 7.30.2 (VmRSS, 3 runs each):
// `require('undici')` costs +20 MB over bare node, this deep path +11 MB; the idle daemon went
// from ~67.8 MB to ~60.1 MB, its peak under a 5k records/s load from ~109.7 to ~104.0 MB, and
// its peak during an outage (logplex refusing connections) from ~90.4 to ~75.9 MB.
//
// Robustness: undici has no "exports" map, so deep paths resolve; lib/dispatcher/pool.js,
// lib/dispatcher/dispatcher.js and lib/api/index.js exist from 7.0.0 to 7.30.2 (package.json
// pins the exact version). The request()/stream()/... methods are not defined by the classes:
// undici's index.js mixes lib/api into Dispatcher.prototype, so we do the same (idempotent if
// something else loads the root too). Should a later undici move these files or change that
// arrangement, we fall back to the package root: more memory, same behaviour.
//
// Loaded on the first post, not at start: a collector with nothing to send yet (an idle daemon)
// does not hold undici's +11 MB (issue #16: the idle target is 50 MB). Loading it takes a few
// milliseconds, once, in the first flush.
//
// Without node:http2 (the command's choice, skipHttp2ForUndici): undici's client-h2.js requires
// node:http2 when it loads, for HTTP/2, which the collector never speaks (logplex's input is
// HTTP/1.1, and Pools are made with allowH2: false). That module alone is +4.8 MB RSS over bare
// node (VmRSS, Node 20.20). undici is written for a node without it (client-h2.js catches the
// failed require and carries on with no HTTP/2), so while undici loads, a require of node:http2
// fails as it would there. Only the command does this: in an embedder's process, undici's
// modules are shared with the host's own use of undici, which may want HTTP/2.
import type { Pool as UndiciPool } from 'undici';

export type PoolSource = 'deep' | 'root';

let withoutHttp2 = false;

/** Load undici without node:http2 (see above); for the command, before the first post. */
export function skipHttp2ForUndici(): void {
  withoutHttp2 = true;
}

type ModuleLoad = (request: string, parent: unknown, isMain: boolean) => unknown;
/** node's CommonJS loader; `_load` is what every require goes through (and what require hooks wrap). */
const cjsLoader = require('node:module') as { _load: ModuleLoad };

/** `load()`, during which a require of node:http2 fails as on a node built without it. */
function withHttp2Missing<T>(load: () => T): T {
  const original = cjsLoader._load;
  cjsLoader._load = function (this: unknown, request, parent, isMain) {
    if (request === 'node:http2' || request === 'http2') {
      throw Object.assign(new Error(`Cannot find module '${request}' (not loaded by pg-logplexcollector: HTTP/1.1 only)`), { code: 'MODULE_NOT_FOUND' });
    }
    return original.call(this, request, parent, isMain);
  };
  try {
    return load();
  } finally {
    cjsLoader._load = original;
  }
}

function loadPool(): { Pool: typeof UndiciPool; source: PoolSource } {
  return withoutHttp2 ? withHttp2Missing(loadPoolFromUndici) : loadPoolFromUndici();
}

function loadPoolFromUndici(): { Pool: typeof UndiciPool; source: PoolSource } {
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
