// reloadPass(): the one look at serves.new the daemon runs, on file operations that take the
// time the diagram gives them (cold observables standing in for store.ts). What it says, when the
// set is applied, and when the directory is consistent again (completion). Events are projected
// to short summaries: a Secret keeps its value in a private field, which deep equality cannot see.
import { type Observable, Observable as RxObservable, of, throwError } from 'rxjs';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import * as E from 'fp-ts/Either';
import { parseServes, type ServeDbEvent, type ServeSet } from '../../src/servedb';
import { reloadPass, type ServesFiles } from '../../src/servedb/reload';
import { SERVES_PER_STEP } from '../../src/servedb/steps';
import type { TakenServes } from '../../src/servedb/store';
import type { LookReason } from '../../src/servedb/watch';

const dir = '/db';
const logplexUrl = new URL('https://logplex.example.com/logs');
const blue = { i: 'id-1', t: 't.one', p: '/run/1.sock', name: 'BLUE' };
const green = { i: 'id-2', t: 't.two', p: '/run/2.sock' };
const text = (serves: ReadonlyArray<Record<string, string>>): string => JSON.stringify({ serves });
const taken = (serves: ReadonlyArray<Record<string, string>>): TakenServes => ({ kind: 'new', taken: '/db/.taken', text: text(serves) });

function summary(event: ServeDbEvent): string {
  switch (event.kind) {
    case 'serves_accepted':
      return `accepted ${event.file} changed=${event.changed} serves=${event.serves} +${event.added} -${event.removed} ~${event.updated} ${event.reason}`;
    case 'serves_unchanged':
      return `unchanged serves=${event.serves} ${event.reason}`;
    case 'serves_rejected':
      return `rejected ${event.error} serves=${event.serves}`;
    case 'serves_warning':
      return `warning ${event.warning.slice(0, 20)}`;
    case 'serves_error':
      return `error ${event.during} ${event.error}`;
    default:
      return event.kind;
  }
}

const describeSet = (set: ServeSet): string => `[${set.map((s) => `${s.identity}:${s.target.token.reveal()}`).join(' ')}]`;

let scheduler: TestScheduler;
beforeEach(() => {
  scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

/** The pass's events and its applies (`apply [...]`), in the order they happen. */
function pass(reason: LookReason, files: Partial<ServesFiles>, current: ServeSet = []): Observable<string> {
  return new RxObservable<string>((subscriber) => {
    let inForce = current;
    const all: ServesFiles = {
      take: () => of({ kind: 'absent' }),
      accept: () => of(undefined),
      reject: () => of(undefined),
      restore: () => of(undefined),
      turn: () => of(undefined),
      ...files,
    };
    return reloadPass(reason, {
      dir,
      files: all,
      parseOptions: { logplexUrl },
      current: () => inForce,
      apply: (set) => {
        inForce = set;
        subscriber.next(`apply ${describeSet(set)}`);
      },
    })
      .pipe(map(summary))
      .subscribe(subscriber);
  });
}

describe('reloadPass', () => {
  it('says serves_accepted before applying the set (so before any listening), then copies it to serves.loaded', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const files: Partial<ServesFiles> = {
        take: () => cold('-(t|)', { t: taken([blue, green]) }),
        turn: () => cold('-(x|)', { x: undefined }),
        accept: () => cold('---(x|)', { x: undefined }),
      };
      // take (1) · turn after parsing (1) · accepted · turn (1) · apply · copy (3) · done
      expectObservable(pass('file', files)).toBe('--ap--|', {
        a: 'accepted serves.new changed=true serves=2 +2 -0 ~0 file',
        p: 'apply [id-1:t.one id-2:t.two]',
      });
    });
  });

  it('checks and compares a large serves.new a step at a time, the loop turning between steps', () => {
    // Four steps' worth of new serves: parsing yields 3 times for the JSON's entries and 3 for
    // checking them, then one turn after parsing; the comparison walks the new set twice (paths,
    // then changes) and the warnings once (3 each); then one turn before the apply.
    const many = Array.from({ length: 4 * SERVES_PER_STEP }, (_, n) => ({ i: `id-${n}`, t: `t.${n}`, p: `/run/${n}.sock` }));
    scheduler.run(({ cold, expectObservable }) => {
      const files: Partial<ServesFiles> = { take: () => cold('-(t|)', { t: taken(many) }), turn: () => cold('-(x|)', { x: undefined }) };
      const turns = 3 + 3 + 1 + 3 * 3;
      expectObservable(pass('file', files).pipe(map((s) => s.slice(0, 40)))).toBe(`- ${turns}ms a(p|)`, {
        a: `accepted serves.new changed=true serves=${many.length} +${many.length} -0`.slice(0, 40),
        p: 'apply [id-0:t.0 id-1:t.1 id-2:t.2 id-3:t.'.slice(0, 40),
      });
    });
  });

  it('applies nothing for a serves.new that says what is served already, and still copies it', () => {
    const inForce = parseServes(text([blue]), { logplexUrl });
    if (E.isLeft(inForce)) throw new Error('fixture must be valid');
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const copy = cold('--x|', { x: undefined });
      const files: Partial<ServesFiles> = { take: () => cold('-(t|)', { t: taken([blue]) }), accept: () => copy };
      expectObservable(pass('poll', files, inForce.right)).toBe('-a--|', { a: 'accepted serves.new changed=false serves=1 +0 -0 ~0 poll' });
      expectSubscriptions(copy.subscriptions).toBe('-^--!');
    });
  });

  it('a failed copy puts serves.new back and says so after the accept; the set stays applied', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const restore = cold('-x|', { x: undefined });
      const files: Partial<ServesFiles> = {
        take: () => cold('-(t|)', { t: taken([blue]) }),
        accept: () => cold('---#', undefined, Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })),
        restore: () => restore,
      };
      expectObservable(pass('file', files)).toBe('-(ap)-(e|)', {
        a: 'accepted serves.new changed=true serves=1 +1 -0 ~0 file',
        p: 'apply [id-1:t.one]',
        e: 'error accept applied /db/serves.new but could not write serves.loaded (ENOSPC: no space left on device); will retry',
      });
      expectSubscriptions(restore.subscriptions).toBe('----^-!');
    });
  });

  it('rejects after moving the file aside, keeping the set in force', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const files: Partial<ServesFiles> = {
        take: () => cold('-(t|)', { t: taken([blue, blue]) }),
        reject: () => cold('--x|', { x: undefined }),
      };
      expectObservable(pass('file', files, [])).toBe('----(r|)', {
        r: 'rejected serves[1].p: "/run/1.sock" is also used by serves[0] serves=0',
      });
    });
  });

  it('answers a rescan that finds no serves.new with serves_unchanged; a poll or file event says nothing', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const absent: Partial<ServesFiles> = { take: () => cold('--(a|)', { a: { kind: 'absent' } }) };
      expectObservable(pass('rescan', absent)).toBe('--(u|)', { u: 'unchanged serves=0 rescan' });
      expectObservable(pass('poll', absent)).toBe('--|');
      expectObservable(pass('file', absent)).toBe('--|');
    });
  });

  it('reports a serves.new it cannot read, and ends the pass', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const files: Partial<ServesFiles> = { take: () => cold('-#', undefined, Object.assign(new Error('EACCES: permission denied, rename'), { code: 'EACCES' })) };
      expectObservable(pass('poll', files)).toBe('-(e|)', { e: 'error read cannot read /db/serves.new (EACCES: permission denied)' });
    });
  });

  it('rejects a serves.new it will not read (a FIFO, too large) without parsing it', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const files: Partial<ServesFiles> = {
        take: () => cold('-(u|)', { u: { kind: 'unusable', taken: '/db/.taken', problem: 'serves.new is a FIFO (named pipe), not a regular file' } }),
      };
      expectObservable(pass('file', files)).toBe('-(r|)', { r: 'rejected serves.new is a FIFO (named pipe), not a regular file serves=0' });
    });
  });

  it('refuses `t` serves without LOGPLEX_URL', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const run = new RxObservable<string>((subscriber) =>
        reloadPass('file', {
          dir,
          files: { take: () => cold('-(t|)', { t: taken([blue]) }), accept: () => of(undefined), reject: () => of(undefined), restore: () => of(undefined), turn: () => of(undefined) },
          parseOptions: { logplexUrl: undefined },
          current: () => [],
          apply: () => undefined,
        })
          .pipe(map(summary))
          .subscribe(subscriber),
      );
      expectObservable(run).toBe('-(r|)', { r: 'rejected serves[0].t: a token needs LOGPLEX_URL to be set (or give this serve a "url" instead) serves=0' });
    });
  });

  it('stops at the error of a step it does not expect to fail', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const files: Partial<ServesFiles> = { take: () => cold('-(t|)', { t: taken([blue]) }), turn: () => throwError(() => new Error('bug')) };
      expectObservable(pass('file', files)).toBe('-#', undefined, new Error('bug'));
    });
  });
});
