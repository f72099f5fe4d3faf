// The serves file checked in steps: the JSON of a large serves.new parsed a step at a time gives
// exactly what JSON.parse gives (or throws what it throws), and parsing yields between steps.
import fc from 'fast-check';
import { parseJsonInSteps } from '../../src/servedb/jsonSteps';
import { runToEnd, SERVES_PER_STEP, type Steps } from '../../src/servedb/steps';
import { parseServesInSteps } from '../../src/servedb/validate';

/** How many times `steps` yields before it returns, and what it returns. */
function drive<T>(steps: Steps<T>): { readonly yields: number; readonly value: T } {
  let yields = 0;
  for (;;) {
    const step = steps.next();
    if (step.done === true) return { yields, value: step.value };
    yields++;
  }
}

function outcome(parse: () => unknown): { readonly value: unknown } | { readonly error: string } {
  try {
    return { value: parse() };
  } catch (err) {
    return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

const expectSameAsJsonParse = (text: string): void =>
  expect(outcome(() => runToEnd(parseJsonInSteps(text)))).toEqual(outcome(() => JSON.parse(text)));

const manyServes = (n: number): string =>
  JSON.stringify({ serves: Array.from({ length: n }, (_, i) => ({ i: `id-${i}`, t: `t.${i}`, p: `/run/${i}.sock` })) });

describe('parseJsonInSteps', () => {
  it('gives what JSON.parse gives for documents with a serves list among other keys', () => {
    const entry = fc.oneof(fc.jsonValue(), fc.record({ i: fc.string(), p: fc.string(), t: fc.string() }));
    const document = fc.record({ serves: fc.array(entry, { maxLength: 20 }), before: fc.jsonValue(), after: fc.jsonValue() });
    fc.assert(
      fc.property(document, fc.boolean(), fc.constantFrom('', ' ', '\n\t '), (doc, servesFirst, space) => {
        const { serves, before, after } = doc;
        const ordered = servesFirst ? { serves, before, after } : { before, after, serves };
        expectSameAsJsonParse(JSON.stringify(ordered, null, space));
      }),
      { numRuns: 300 },
    );
  });

  it('throws what JSON.parse throws for a serves file cut or damaged anywhere', () => {
    const text = JSON.stringify({ serves: [{ i: 'a"\\b', p: '/run/a.sock', t: 't.x' }, { i: 'b', p: '/run/b.sock', url: 'x' }], tool: { n: [1, 2] } }, null, 1);
    fc.assert(
      fc.property(fc.nat(text.length), fc.nat(text.length), fc.constantFrom('', ',', ']', '}', '"', '\\', '[', '{', 'x'), (at, to, insert) => {
        const [from, end] = at <= to ? [at, to] : [to, at];
        expectSameAsJsonParse(text.slice(0, from) + insert + text.slice(Math.min(end, from + 3)));
      }),
      { numRuns: 500 },
    );
  });

  it('follows the last `serves` key, escaped keys, empty lists and values that are not lists', () => {
    for (const text of [
      '{"serves": [{"i": "1"}], "serves": [{"i": "2"}]}',
      '{"serves": [{"i": "1"}], "serves": 5}',
      '{"serv\\u0065s": [{"i": "\\"]},{"}]}',
      '{"serves": [ ]}',
      '{"serves": [1,]}',
      '{"serves": [,]}',
      '{"a": {"serves": [1]}, "serves": [[1, [2]], {"x": "]"}]}',
      '[{"serves": []}]',
      '  {"serves": []}  x',
      '{"__proto__": 1, "serves": [{"__proto__": {"i": "x"}}]}',
    ]) {
      expectSameAsJsonParse(text);
    }
  });

  it('yields between steps for a large serves file', () => {
    const { yields, value } = drive(parseJsonInSteps(manyServes(4 * SERVES_PER_STEP)));
    expect(yields).toBeGreaterThanOrEqual(3);
    expect(value).toEqual(JSON.parse(manyServes(4 * SERVES_PER_STEP)));
  });
});

describe('parseServesInSteps', () => {
  it('checks at most SERVES_PER_STEP serves between two yields', () => {
    // Parsing 4 steps' worth yields at least 3 times for the JSON and 3 for the checks.
    const { yields } = drive(parseServesInSteps(manyServes(4 * SERVES_PER_STEP), { logplexUrl: new URL('https://logplex.example.com/logs') }));
    expect(yields).toBeGreaterThanOrEqual(6);
  });
});
