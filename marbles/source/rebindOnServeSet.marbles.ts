// Marble diagrams of rebindOnServeSet: which serve-set sequences start, update and stop which
// per-path inner streams, and when the whole thing completes.
import { NEVER, Observable, concat, endWith, map, switchMap, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Secret } from '../../src/secret';
import type { Serve, ServeSet } from '../../src/servedb/serve';
import { APPLY_STEP, rebindOnServeSet } from '../../src/source/rebindOnServeSet';
import { serveSetChanges } from '../../src/servedb/serve';

function serve(socketPath: string, identity: string, token = 'tok', name: string | undefined = undefined): Serve {
  return { identity, socketPath, name, target: { url: 'https://logplex.example.com/logs', user: 'token', token: new Secret(token) } };
}

const A = '/run/a.sock';
const B = '/run/b.sock';

/** `path=identity/token` for each serve seen, `path!` when its serve$ completes. */
function labels(serve$: Observable<Serve>, socketPath: string): Observable<string> {
  return serve$.pipe(
    map((s) => `${s.socketPath}=${s.identity}/${s.target.token.reveal()}`),
    endWith(`${socketPath}!`),
  );
}

describe('rebindOnServeSet', () => {
  let scheduler: TestScheduler;
  let started: string[];
  const counting =
    <T>(project: (serve$: Observable<Serve>, socketPath: string) => Observable<T>) =>
    (serve$: Observable<Serve>, socketPath: string): Observable<T> => {
      started.push(socketPath);
      return project(serve$, socketPath);
    };

  beforeEach(() => {
    started = [];
    scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('starts a path when it appears, stops it when it disappears, stops the rest when the source completes', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const sets: Record<string, ServeSet> = { x: [serve(A, 'ia')], y: [serve(A, 'ia'), serve(B, 'ib')], z: [serve(B, 'ib')] };
      const result = cold('x-y-z-|', sets).pipe(rebindOnServeSet(counting(labels)));
      expectObservable(result).toBe('a-b-c-(d|)', { a: `${A}=ia/tok`, b: `${B}=ib/tok`, c: `${A}!`, d: `${B}!` });
    });
    expect(started).toEqual([A, B]);
  });

  it('leaves an unchanged serve alone when the same set (as new objects) arrives again', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const sets: Record<string, ServeSet> = { x: [serve(A, 'ia')], y: [serve(A, 'ia')], z: [serve(A, 'ia'), serve(B, 'ib')] };
      const result = cold('x-y-z--', sets).pipe(rebindOnServeSet(counting(labels)));
      expectObservable(result).toBe('a---b--', { a: `${A}=ia/tok`, b: `${B}=ib/tok` });
    });
    expect(started).toEqual([A, B]);
  });

  it('pushes a changed token, name or identity into the running serve$ without restarting it', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const sets: Record<string, ServeSet> = {
        w: [serve(A, 'ia', 'one')],
        x: [serve(A, 'ia', 'two')], // token changed
        y: [serve(A, 'ia', 'two', 'BLUE')], // name changed
        z: [serve(A, 'other', 'two', 'BLUE')], // identity changed
      };
      const result = cold('w-x-y-z-|', sets).pipe(
        rebindOnServeSet(
          counting((serve$) => serve$.pipe(map((s) => `${s.identity}/${s.target.token.reveal()}/${s.name ?? '-'}`))),
        ),
      );
      expectObservable(result).toBe('a-b-c-d-|', { a: 'ia/one/-', b: 'ia/two/-', c: 'ia/two/BLUE', d: 'other/two/BLUE' });
    });
    expect(started).toEqual([A]);
  });

  it('starts a fresh inner for a path that is removed and added again', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const sets: Record<string, ServeSet> = { x: [serve(A, 'ia', 'one')], y: [], z: [serve(A, 'ia', 'two')] };
      const result = cold('x-y-z-|', sets).pipe(rebindOnServeSet(counting(labels)));
      expectObservable(result).toBe('a-b-c-(d|)', { a: `${A}=ia/one`, b: `${A}!`, c: `${A}=ia/two`, d: `${A}!` });
    });
    expect(started).toEqual([A, A]);
  });

  it('replays the current serve to an inner that subscribes to serve$ late', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const sets: Record<string, ServeSet> = { x: [serve(A, 'ia', 'one')], y: [serve(A, 'ia', 'two')] };
      const late = (serve$: Observable<Serve>): Observable<string> =>
        timer(5).pipe(switchMap(() => serve$.pipe(map((s) => s.target.token.reveal()))));
      const result = cold('x-y------|', sets).pipe(rebindOnServeSet(late));
      expectObservable(result).toBe('-----a---|', { a: 'two' });
    });
  });

  it('keeps forwarding a stopped inner until it winds down, and completes only after it', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const sets: Record<string, ServeSet> = { x: [serve(A, 'ia'), serve(B, 'ib')], y: [serve(B, 'ib')] };
      // Like a socket source draining its connections: a last value 3 frames after the stop.
      const draining = (serve$: Observable<Serve>, socketPath: string): Observable<string> =>
        concat(labels(serve$, socketPath), timer(3).pipe(map(() => `${socketPath} drained`)));
      const result = cold('x----y----|', sets).pipe(rebindOnServeSet(draining));
      // a group `(ab)` spans 4 frames, hence the explicit time steps: c@5 e@8 d@10 g@13.
      expectObservable(result).toBe('(ab) 1ms c 2ms e 1ms d 2ms (g|)', {
        a: `${A}=ia/tok`,
        b: `${B}=ib/tok`,
        c: `${A}!`,
        d: `${B}!`,
        e: `${A} drained`,
        g: `${B} drained`,
      });
    });
  });

  it('unsubscribes every inner at once when the result is unsubscribed', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const innerA = cold('-1---1-----1');
      const innerB = cold('-2-----2---');
      const sets: Record<string, ServeSet> = { x: [serve(A, 'ia')], y: [serve(A, 'ia'), serve(B, 'ib')] };
      const result = cold('x-y---------', sets).pipe(rebindOnServeSet((_serve$, path) => (path === A ? innerA : innerB)));
      expectObservable(result, '----------!').toBe('-1-2-1---2--');
      expectSubscriptions(innerA.subscriptions).toBe('^---------!');
      expectSubscriptions(innerB.subscriptions).toBe('--^-------!');
    });
  });

  it('forwards a source error at once and tears every inner down', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const innerA = cold('-1-1-1-1-1-1');
      const sets: Record<string, ServeSet> = { x: [serve(A, 'ia')] };
      const result = cold('x----#', sets, new Error('serve db gone')).pipe(rebindOnServeSet(() => innerA));
      expectObservable(result).toBe('-1-1-#', undefined, new Error('serve db gone'));
      expectSubscriptions(innerA.subscriptions).toBe('^----!');
    });
  });

  describe('with a gate that lets a serve set wait for its turn (one frame here)', () => {
    // A job with more to do (it returns true) is called again a frame later.
    const oneFrameGate = (job: () => boolean | void): (() => void) => {
      let action = scheduler.schedule(function turn() {
        if (job() === true) action = scheduler.schedule(turn, 1);
      }, 1);
      return () => action.unsubscribe();
    };

    it('applies a large set a few serves per turn, in order', () => {
      const many: ServeSet = Array.from({ length: 5 * APPLY_STEP }, (_, n) => serve(`/run/${n}.sock`, `i${n}`));
      const startedAt: number[] = [];
      scheduler.run(({ cold, flush }) => {
        cold('x', { x: many })
          .pipe(rebindOnServeSet(counting(() => NEVER), oneFrameGate))
          .subscribe();
        scheduler.schedule(function probe() {
          while (startedAt.length < started.length) startedAt.push(scheduler.now());
          if (started.length < many.length) this.schedule(undefined, 1);
        }, 1);
        flush();
      });
      expect(started).toEqual(many.map((s) => s.socketPath));
      const perTurn = [...new Set(startedAt)].map((t) => startedAt.filter((at) => at === t).length);
      expect(perTurn.length).toBeGreaterThanOrEqual(5);
      expect(Math.max(...perTurn)).toBeLessThanOrEqual(APPLY_STEP);
    });

    it('starts a serve on its turn, with the serve of the latest set', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const sets: Record<string, ServeSet> = { x: [serve(A, 'ia', 'one')], y: [serve(A, 'ia', 'two')] };
        const result = cold('(xy)---|', sets).pipe(rebindOnServeSet(counting(labels), oneFrameGate));
        expectObservable(result).toBe('-a-----(b|)', { a: `${A}=ia/two`, b: `${A}!` });
      });
      expect(started).toEqual([A]);
    });

    it('never starts a serve removed before its turn, and stops a started one on its turn', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const sets: Record<string, ServeSet> = { x: [serve(A, 'ia'), serve(B, 'ib')], y: [serve(B, 'ib')], z: [] };
        const result = cold('(xy)-z-|', sets).pipe(rebindOnServeSet(counting(labels), oneFrameGate));
        expectObservable(result).toBe('-b----c|', { b: `${B}=ib/tok`, c: `${B}!` });
      });
      expect(started).toEqual([B]);
    });

    it('drops what still waits when the source completes, and completes', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const sets: Record<string, ServeSet> = { x: [serve(A, 'ia')] };
        expectObservable(cold('(x|)', sets).pipe(rebindOnServeSet(counting(labels), oneFrameGate))).toBe('|');
      });
      expect(started).toEqual([]);
    });
  });

  it('does not complete while a source is open, even with no serves at all', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const sets: Record<string, ServeSet> = { e: [] };
      expectObservable(cold('e-e-e---', sets).pipe(rebindOnServeSet(labels))).toBe('--------');
      expectObservable(cold('e-e-|', sets).pipe(rebindOnServeSet(labels))).toBe('----|');
    });
  });
});

describe('serveSetChanges', () => {
  const m = (...serves: Serve[]): Serve[] => serves;

  it('lists stops, then starts and updates; equal serves produce nothing', () => {
    const b2 = serve(B, 'ib', 'new');
    const c = serve('/run/c.sock', 'ic');
    expect(serveSetChanges(m(serve(A, 'ia'), serve(B, 'ib')), m(b2, c))).toEqual([
      { kind: 'stop', socketPath: A },
      { kind: 'update', socketPath: B, serve: b2 },
      { kind: 'start', socketPath: c.socketPath, serve: c },
    ]);
    expect(serveSetChanges(m(serve(A, 'ia')), m(serve(A, 'ia')))).toEqual([]);
  });
});
