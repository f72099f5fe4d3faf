// reload(): a sequence of what was read from serves.new becomes outcomes and serve sets.
// Outcomes are projected to plain summaries before comparing: a Secret keeps its value in a
// private field, which deep equality cannot see.
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import * as E from 'fp-ts/Either';
import { appliedServeSets, parseServes, reload, type ReloadOutcome, type ServeSet, type ServesRead } from '../../src/servedb';

const logplexUrl = new URL('https://logplex.example.com/logs');
const options = { logplexUrl };

const file = (serves: ReadonlyArray<Record<string, string>>): ServesRead => ({ kind: 'new', text: JSON.stringify({ serves }) });
const blue = { i: 'id-1', t: 't.one', p: '/run/1.sock', name: 'BLUE' };
const green = { i: 'id-2', t: 't.two', p: '/run/2.sock' };
const greenNewToken = { ...green, t: 't.two-rotated' };

const reads: Record<string, ServesRead> = {
  a: file([blue, green]),
  r: file([green, blue]), // same serves, another order: the same set
  n: { kind: 'absent' },
  x: { kind: 'new', text: '{"serves": [' },
  d: file([blue, blue]), // duplicate socket path
  t: file([blue, greenNewToken]), // a rotated token is a change
  e: file([]),
};

/** What a reader of the diagram checks: kind, changed, the serves (with tokens), the error. */
function summary(outcome: ReloadOutcome): string {
  switch (outcome.kind) {
    case 'absent':
      return 'absent';
    case 'accepted':
      return `${outcome.changed ? 'changed' : 'same'} ${describeSet(outcome.serveSet)}`;
    case 'rejected':
      return `rejected ${outcome.error}`;
  }
}

function describeSet(set: ServeSet): string {
  return `[${set.map((s) => `${s.identity}@${s.socketPath}:${s.target.token.reveal()}`).join(' ')}]`;
}

const A = '[id-1@/run/1.sock:t.one id-2@/run/2.sock:t.two]';
const T = '[id-1@/run/1.sock:t.one id-2@/run/2.sock:t.two-rotated]';

let scheduler: TestScheduler;
beforeEach(() => {
  scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

describe('reload', () => {
  it('turns reads into outcomes, keeping the set in force across rejects', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const read$ = cold('-a-n-r-x-d-t-e-|', reads);
      expectObservable(read$.pipe(reload([], options), map(summary))).toBe('-A-N-R-X-D-T-E-|', {
        A: `changed ${A}`,
        N: 'absent',
        R: `same ${A}`,
        X: 'rejected serves.new is not valid JSON at line 1, column 13: Unexpected end of JSON input',
        D: 'rejected serves[1].p: "/run/1.s…(11 chars)" is also used by serves[0]',
        T: `changed ${T}`,
        E: 'changed []',
      });
    });
  });

  it('emits a serve set only when the content changed: duplicates suppressed, rejects emit none', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const read$ = cold('-a-r-x-a-n-t-t-e-|', reads);
      expectObservable(read$.pipe(reload([], options), appliedServeSets(), map(describeSet))).toBe(
        '-A---------T---E-|',
        { A, T, E: '[]' },
      );
    });
  });

  it('starts from the set it is given: re-reading serves.loaded`s content is no change', () => {
    const loaded = parseServes(reads.a?.kind === 'new' ? reads.a.text : '', options);
    if (E.isLeft(loaded)) throw new Error('fixture must be valid');
    scheduler.run(({ cold, expectObservable }) => {
      const read$ = cold('-a-r-t-|', reads);
      expectObservable(read$.pipe(reload(loaded.right, options), appliedServeSets(), map(describeSet))).toBe('-----T-|', { T });
    });
  });

  it('refuses `t` serves without LOGPLEX_URL, and keeps the set in force', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const read$ = cold('-a-|', reads);
      expectObservable(read$.pipe(reload([], { logplexUrl: undefined }), map(summary))).toBe('-X-|', {
        X: [
          'rejected serves[0].t: a token needs LOGPLEX_URL to be set (or give this serve a "url" instead)',
          'serves[1].t: a token needs LOGPLEX_URL to be set (or give this serve a "url" instead)',
        ].join('\n'),
      });
    });
  });
});
