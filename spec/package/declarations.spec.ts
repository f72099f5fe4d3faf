// The declarations embedders compile against (dist/**/*.d.ts, built by jest's globalSetup) name
// rxjs by its public entry only. `rxjs/internal/*` is where rxjs keeps its modules today, not a
// promise: types from there would break an embedder's build on an rxjs that moved them, and
// would not be the types of the embedder's own `import { Observable } from 'rxjs'`.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const DIST = resolve(__dirname, '../../dist');

function declarations(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return declarations(path);
    return entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

describe('the shipped declarations', () => {
  const files = declarations(DIST);

  it('are there', () => {
    expect(files.map((f) => relative(DIST, f))).toEqual(expect.arrayContaining(['index.d.ts', 'rx.d.ts', 'collector.d.ts']));
  });

  it('never name rxjs/internal', () => {
    const offending = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${relative(DIST, file)}:${i + 1}` }))
        .filter(({ line }) => line.includes('rxjs/internal'))
        .map(({ line, at }) => `${at}: ${line.trim()}`),
    );
    expect(offending).toEqual([]);
  });
});
