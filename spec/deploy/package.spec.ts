// Package hygiene an embedder or packager relies on: the license file matches package.json, the
// changelog exists, and rxjs is a peer dependency (one copy shared with the embedder's rxjs;
// npm 7+ installs it when nobody else provides it, and `npm ci --omit=dev` keeps it).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
interface Manifest {
  readonly version: string;
  readonly license: string;
  readonly files: readonly string[];
  readonly dependencies: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly devDependencies: Record<string, string>;
}
interface Lock {
  readonly packages: Record<string, { readonly version?: string; readonly dev?: boolean; readonly peer?: boolean } & Partial<Manifest>>;
}

describe('the package', () => {
  const pkg = JSON.parse(read('package.json')) as Manifest;
  const lock = JSON.parse(read('package-lock.json')) as Lock;

  it('ships an MIT LICENSE, as package.json says', () => {
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License\n/);
  });

  it('has a CHANGELOG whose newest entry is this version or Unreleased', () => {
    const first = /^## (\S+)/m.exec(read('CHANGELOG.md'))?.[1];
    expect([pkg.version, 'Unreleased']).toContain(first);
  });

  it('takes rxjs as a peer dependency, and the lock file installs it for the daemon even with --omit=dev', () => {
    expect(pkg.peerDependencies?.rxjs).toMatch(/^\^7\./);
    expect(pkg.dependencies.rxjs).toBeUndefined(); // a pinned copy would be installed twice beside an embedder's
    expect(pkg.devDependencies.rxjs).toBeUndefined(); // dev + peer marks it dev: --omit=dev would leave it out
    expect(lock.packages['']?.peerDependencies).toEqual(pkg.peerDependencies);
    const rxjs = lock.packages['node_modules/rxjs'];
    expect(rxjs).toMatchObject({ peer: true });
    expect(rxjs?.dev).toBeUndefined();
  });

  it('lock file agrees with package.json (npm install would not rewrite it)', () => {
    const root = lock.packages[''];
    expect(root?.dependencies).toEqual(pkg.dependencies);
    expect(root?.devDependencies).toEqual(pkg.devDependencies);
    expect(root?.version).toBe(pkg.version);
  });
});
