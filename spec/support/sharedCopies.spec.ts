// The repository carries its own copies of the team's shared captures (spec/fixtures/pg15) and
// specs (docs/), so that a clone tests on its own. Where the shared folder stands beside the
// checkout (a developer's machine, CI), the copies must match it: a capture added there and not
// here would otherwise go untested. On a lone clone there is nothing to compare, and this says so.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FIXTURE_DIR } from './fixtures';

const SHARED = resolve(__dirname, '../../../shared');
const DOCS = resolve(__dirname, '../../docs');
// The one line that differs: the docs point at the fixtures where this repository keeps them.
const docsLink = (text: string): string => text.replace('`../fixtures/pg15/`', '`../spec/fixtures/pg15/`');

const describeIfShared = existsSync(join(SHARED, 'fixtures', 'pg15')) ? describe : describe.skip;

describeIfShared('copies of ../shared', () => {
  it('spec/fixtures/pg15 holds every shared capture, byte for byte', () => {
    const shared = readdirSync(join(SHARED, 'fixtures', 'pg15')).sort();
    expect(readdirSync(FIXTURE_DIR).sort()).toEqual(shared);
    for (const name of shared) {
      expect({ name, same: readFileSync(join(FIXTURE_DIR, name)).equals(readFileSync(join(SHARED, 'fixtures', 'pg15', name))) }).toEqual({ name, same: true });
    }
  });

  it('docs/ holds every shared spec, as written there', () => {
    const shared = readdirSync(join(SHARED, 'spec')).filter((f) => f.endsWith('.md')).sort();
    expect(shared.length).toBeGreaterThan(0);
    for (const name of shared) {
      const ours = readFileSync(join(DOCS, name), 'utf8');
      expect({ name, text: ours }).toEqual({ name, text: docsLink(readFileSync(join(SHARED, 'spec', name), 'utf8')) });
    }
  });
});
