// No module of src/ keeps mutable state at its top level: a `let` or a Map/Set made when the
// module loads is shared by everything in the process that uses the module, so two collectors
// embedded in one process would share it (what one remembers, the other sees). State belongs to
// the collector, the source or the stage that owns it, made when that is made.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';
import { importGraph, SRC } from './importGraph';

const MUTABLE_CONTAINERS = new Set(['Map', 'Set', 'WeakMap', 'WeakSet']);

/** `file: name` for each top-level `let`/`var`, and each top-level const holding a new Map or Set. */
function moduleState(relativePath: string): string[] {
  const text = readFileSync(join(SRC, relativePath), 'utf8');
  const source = ts.createSourceFile(relativePath, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const list = statement.declarationList;
    const constant = (list.flags & ts.NodeFlags.Const) !== 0;
    for (const declaration of list.declarations) {
      const name = declaration.name.getText(source);
      const init = declaration.initializer;
      const container = init !== undefined && ts.isNewExpression(init) && ts.isIdentifier(init.expression) && MUTABLE_CONTAINERS.has(init.expression.text);
      const table = /^[A-Z][A-Z0-9_]*$/.test(name) || (declaration.type?.getText(source).startsWith('Readonly') ?? false);
      if (!constant) found.push(`${relativePath}: let ${name}`);
      else if (container && !table) found.push(`${relativePath}: const ${name} = new ${init.expression.getText(source)}`);
    }
  }
  return found;
}

// What may stay, each for a reason that makes sharing it change nothing a collector does. Tables
// that are never written are not state: SCREAMING_CASE consts and Readonly-typed ones pass.
const ALLOWED: Readonly<Record<string, string>> = {
  'format/formatRecord.ts: const compiled = new WeakMap': 'a memo of a pure function, keyed by its input object',
  'format/timestamp.ts: const secondsCache = new Map': 'a bounded memo of a pure function of the text',
  'format/timestamp.ts: let lastSeconds': 'the same memo, its last entry',
  'format/timestamp.ts: let lastZone': 'the same memo, its last entry',
  'format/timestamp.ts: let lastUtc': 'the same memo, its last entry',
  'tools/logfebeEmulator.ts: let logTimeMs': 'a memo of the clock text for the current millisecond',
  'tools/logfebeEmulator.ts: let logTimeText': 'the same memo',
  'sink/undiciPool.ts: let loaded': 'the module required lazily, the same for every caller',
  ...Object.fromEntries(
    ['exact', 'knownAscii', 'out', 'total', 'frames', 'n', 'giveUp', 'header', 'headerBytes', 'budget', 'tagHead', 'tagHeadBytes', 'maxFrames', 'cut', 'held', 'heldBytes', 'marker', 'markerFor'].map(
      (name) => [`format/recordFrames.ts: let ${name}`, 'scratch of one synchronous call, reset at its start: nothing outlives the call'],
    ),
  ),
};

describe('module-level state in src/', () => {
  it('has none', () => {
    const found = [...importGraph().keys()].flatMap(moduleState);
    expect(found.filter((entry) => ALLOWED[entry] === undefined)).toEqual([]);
  });

  it('finds it where it is allowed (the check itself)', () => {
    expect(moduleState('format/timestamp.ts')).toEqual(expect.arrayContaining(['format/timestamp.ts: let lastSeconds', 'format/timestamp.ts: const secondsCache = new Map']));
  });
});
