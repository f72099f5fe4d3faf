// `npm install` on a fresh clone must leave `git status` clean: the lockfile's copy of the root
// package has to say what package.json says, or npm rewrites it (it once lacked two bin entries).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
type Manifest = {
  name?: string;
  version?: string;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  engines?: Record<string, string>;
  license?: string;
};
const read = (file: string): unknown => JSON.parse(readFileSync(resolve(ROOT, file), 'utf8'));

describe('package-lock.json', () => {
  it("records the root package exactly as package.json declares it", () => {
    const manifest = read('package.json') as Manifest;
    const lock = read('package-lock.json') as { packages: Record<string, Manifest> };
    const root = lock.packages[''];
    const fields = ['name', 'version', 'bin', 'dependencies', 'devDependencies', 'peerDependencies', 'engines', 'license'] as const;
    for (const field of fields) {
      expect({ field, value: root?.[field] }).toEqual({ field, value: manifest[field] });
    }
  });
});
