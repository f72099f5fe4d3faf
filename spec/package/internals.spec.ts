// Where the code leans on what its dependencies and node do not promise: rxjs's `internal/*`
// modules (src/rx.ts, for memory), undici's lib/ files (src/sink/undiciPool.ts, likewise) and V8
// flags (src/daemon/v8Tuning.ts, checked in its spec). An upgrade of rxjs or undici, or another
// Node line, that moves one of them fails here, loudly, rather than in the daemon. And the
// declarations we publish never name rxjs's private paths.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

/** Runs `script` in a fresh node (as the daemon loads modules, outside jest's registry) and parses what it prints. */
function inNode<T>(script: string): T {
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as T;
}

function files(dir: string, suffix: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path, suffix) : path.endsWith(suffix) ? [path] : [];
  });
}

describe('dependency internals the code relies on', () => {
  it("rxjs: every deep module src/rx.ts loads exports the very object 'rxjs' does", () => {
    const deep = [...read('src/rx.ts').matchAll(/^import \{ (\w+) as \w+ \} from '(rxjs\/internal\/[^']+)';$/gm)].map((m) => [m[2] ?? '', m[1] ?? '']);
    expect(deep.length).toBeGreaterThan(30);
    const moved = inNode<string[]>(`
      const root = require('rxjs');
      const moved = [];
      for (const [path, name] of ${JSON.stringify(deep)}) {
        let value;
        try { value = require(path)[name]; } catch (err) { moved.push(path + ': ' + err.code); continue; }
        if (value === undefined || value !== root[name]) moved.push(path + ': ' + name + ' is not rxjs.' + name);
      }
      process.stdout.write(JSON.stringify(moved));
    `);
    expect(moved).toEqual([]);
  });

  it("rxjs: the scheduler's action and class src/unrefScheduler.ts extends run timers as asyncScheduler does, unref'd", () => {
    // A repeating action runs three times; a pending one does not hold node open (a child whose
    // only timer is one would otherwise wait 30 s for it, past execFileSync's bound).
    const runs = inNode<number>(`
      const { unrefScheduler } = require('./dist/unrefScheduler.js');
      const { execFileSync } = require('node:child_process');
      execFileSync(process.execPath, ['-e', "require('./dist/unrefScheduler.js').unrefScheduler().schedule(() => process.exit(3), 30000)"], { timeout: 15000 });
      let runs = 0;
      const keep = setTimeout(() => undefined, 10000);
      unrefScheduler().schedule(function () {
        runs += 1;
        if (runs < 3) return this.schedule(undefined, 5);
        clearTimeout(keep);
        process.stdout.write(JSON.stringify(runs));
      }, 5);
    `);
    expect(runs).toBe(3);
  });

  it("undici: the lib/ files src/sink/undiciPool.ts loads exist, and give the root's Pool", () => {
    const deep = [...read('src/sink/undiciPool.ts').matchAll(/require\('(undici\/lib\/[^']+)'\)/g)].map((m) => m[1] ?? '');
    expect(deep.length).toBeGreaterThanOrEqual(3);
    const found = inNode<{ missing: string[]; samePool: boolean }>(`
      const missing = [];
      for (const path of ${JSON.stringify(deep)}) { try { require.resolve(path); } catch { missing.push(path); } }
      const { undiciPool } = require('./dist/sink/undiciPool.js');
      const { Pool, source } = undiciPool();
      process.stdout.write(JSON.stringify({ missing, samePool: source === 'deep' && Pool === require('undici').Pool }));
    `);
    expect(found).toEqual({ missing: [], samePool: true });
  });

  it('node: no private handles or bindings in src/ (_handle, process.binding, internalBinding)', () => {
    const hits = files(join(ROOT, 'src'), '.ts').flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/\._handle\b|process\.binding\(|internalBinding\(|\._writableState\b|\._readableState\b/g)].map((m) => `${relative(ROOT, f)}: ${m[0]}`),
    );
    expect(hits).toEqual([]);
  });
});

describe('the published declarations', () => {
  it("never name rxjs/internal/* (an embedder's types must not depend on rxjs's private layout)", () => {
    const hits = files(join(ROOT, 'dist'), '.d.ts').filter((f) => readFileSync(f, 'utf8').includes('rxjs/internal'));
    expect(hits.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
