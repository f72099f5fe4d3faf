// The byte-exact pg15 captures in spec/fixtures/pg15 (copies of the team's shared captures, kept in
// the repository so a clone tests on its own) and their decoded JSON twins.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LogRecord } from '../../src/protocol/messages';

export const FIXTURE_DIR = resolve(__dirname, '../fixtures/pg15');

/** One line of a fixture's .json file, as the independent decoder wrote it. */
export type FixtureMessage =
  | { readonly type: 'V'; readonly version: string }
  | { readonly type: 'I'; readonly identity: string }
  | ({ readonly type: 'L' } & LogRecord);

export interface Fixture {
  readonly name: string; // e.g. `13-unique-violation`
  readonly bytes: Buffer; // the whole connection as PostgreSQL sent it
  readonly messages: readonly FixtureMessage[];
}

export function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((bin) => {
      const name = bin.slice(0, -'.bin'.length);
      const json = readFileSync(join(FIXTURE_DIR, `${name}.json`), 'utf8');
      return {
        name,
        bytes: readFileSync(join(FIXTURE_DIR, bin)),
        messages: json
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as FixtureMessage),
      };
    });
}

export function loadFixture(name: string): Fixture {
  const found = loadFixtures().find((f) => f.name === name);
  if (found === undefined) throw new Error(`no fixture named ${name} in ${FIXTURE_DIR}`);
  return found;
}

/** Every `L` record of every fixture, for tests and benchmarks that need realistic records. */
export function fixtureRecords(): LogRecord[] {
  return loadFixtures().flatMap((f) =>
    f.messages.flatMap((m) => {
      if (m.type !== 'L') return [];
      const { type: _type, ...record } = m;
      return [record];
    }),
  );
}
