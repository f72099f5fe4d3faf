// What loading the package costs (idle RSS <= 50 MB; bare node is ~40 MB here). The
// built library (dist/, as users and the daemon load it) must not pull in whole packages it uses
// a few modules of: rxjs's root is 223 modules (+10.6 MB RSS, src/rx.ts) and undici, even by its
// deep path, +11 MB that only the first post needs (src/sink/undiciPool.ts).
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/** The node_modules files a fresh node process holds after `require(entry)`. */
function modulesLoadedBy(entry: string): string[] {
  const script = `require(${JSON.stringify(entry)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  return (JSON.parse(out) as string[]).filter((f) => f.includes('node_modules')).map((f) => f.slice(f.lastIndexOf('node_modules/') + 'node_modules/'.length));
}

describe('loading the package', () => {
  const loaded = modulesLoadedBy(resolve(ROOT, 'dist', 'index.js'));

  it('loads rxjs by the modules it uses, not its root', () => {
    expect(loaded.filter((f) => f.startsWith('rxjs/'))).not.toHaveLength(0);
    expect(loaded).not.toContain('rxjs/dist/cjs/index.js');
    expect(loaded.filter((f) => f.startsWith('rxjs/dist/cjs/internal/ajax/'))).toEqual([]);
  });

  it('leaves undici until the first post', () => {
    expect(loaded.filter((f) => f.startsWith('undici/'))).toEqual([]);
  });

  it('loads fp-ts by module, not its root', () => {
    expect(loaded).not.toContain('fp-ts/lib/index.js');
  });

  it('still exports the library API', () => {
    const script = `const m = require('./dist/index.js'); process.stdout.write(JSON.stringify(['createCollector', 'socketSource', 'logplexSink'].map((k) => typeof m[k])))`;
    expect(JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }))).toEqual(['function', 'function', 'function']);
  });
});
