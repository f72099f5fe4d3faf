// fillBodies on the virtual clock: each diagram is the timing the operator promises. Items are
// strings written as latin1; a trailing digit is an item's frames (`e5` weighs 5), else it weighs 1.
import { asyncScheduler, config, merge, Observable } from 'rxjs';
import { map } from 'rxjs/operators';
import { TestScheduler } from 'rxjs/testing';
import { Deadlines } from '../../src/sink/deadlines';
import { BodyFiller, fillBodies, type FillOptions } from '../../src/sink/fillBodies';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const HEADROOM = 2;
const weightOf = (s: string): number => (/\d$/.test(s) ? Number(s[s.length - 1]) : 1);

interface Body {
  readonly text: string; // the records, [headroom, end) as latin1
  readonly frames: number;
}
const body = (text: string, frames: number): Body => ({ text, frames });

function options(overrides: Partial<FillOptions<string>> = {}): FillOptions<string> {
  let lastWritten = '';
  return {
    maxFrames: 3,
    maxBytes: 100,
    flushIntervalMs: 5,
    headroom: HEADROOM,
    // An empty item writes 0 bytes: the writer's "skip".
    write: (s, target, at, end) => {
      if (s.length > end - at) return -s.length;
      lastWritten = s;
      return target.write(s, at, 'latin1');
    },
    framesOf: () => weightOf(lastWritten),
    accept: () => true,
    bodies: { take: (n) => Buffer.alloc(n), give: () => {} },
    ...overrides,
  };
}

const fill =
  (overrides: Partial<FillOptions<string>> = {}) =>
  (source: Observable<string>): Observable<Body> =>
    source.pipe(
      fillBodies(options(overrides)),
      map((b) => body(b.buffer.toString('latin1', b.start, b.end), b.frames)),
    );

/** Chunks as the source emits them: `'a,b,c'` is one emission of three items. */
const fillChunks =
  (overrides: Partial<FillOptions<string>> = {}) =>
  (source: Observable<string>): Observable<Body> => {
    let lastWritten = '';
    const items = (chunk: string): string[] => chunk.split(',');
    return source.pipe(
      fillBodies(
        options({
          count: (chunk) => items(chunk).length,
          write: (chunk, target, at, end, index) => {
            const s = items(chunk)[index] ?? '';
            if (s.length > end - at) return -s.length;
            lastWritten = s;
            return target.write(s, at, 'latin1');
          },
          framesOf: () => weightOf(lastWritten),
          ...overrides,
        }),
      ),
      map((b) => body(b.buffer.toString('latin1', b.start, b.end), b.frames)),
    );
  };

describe('fillBodies, a chunk per emission', () => {
  it('writes every item of a chunk at once, cutting bodies inside it at maxFrames', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      // Five items in one emission: three fill a body (out at once), two open the next, whose
      // timer runs from that emission (due at 6); f joins it at 4 and makes it full.
      const source = hot('-x--c------|', { x: 'a,b,c,d,e', c: 'f' });
      const expected = '  -y--z------|';
      expectObservable(source.pipe(fillChunks())).toBe(expected, { y: body('abc', 3), z: body('def', 3) });
    });
  });

  it('closes the rest of a chunk flushInterval after the emission that opened its body', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-x--c------|', { x: 'a,b,c,d', c: 'e' });
      const expected = '  -y----z----|';
      expectObservable(source.pipe(fillChunks())).toBe(expected, { y: body('abc', 3), z: body('de', 2) });
    });
  });

  it('cuts before an item that would pass maxBytes, mid-chunk, and sends a bigger one alone', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-x-----|', { x: 'aa,bbb,cc,ddddddd,e' });
      const expected = '  -(yzw)v|'; // e's body waits its timer (due at 6)
      expectObservable(source.pipe(fillChunks({ maxBytes: 5, maxFrames: 10 }))).toBe(expected, {
        y: body('aabbb', 2),
        z: body('cc', 1),
        w: body('ddddddd', 1),
        v: body('e', 1),
      });
    });
  });

  it('keeps the order of items across chunks and bodies', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-x-y-|', { x: 'a,b', y: 'c,d,e,f' });
      const expected = '  ---y-(z|)';
      expectObservable(source.pipe(fillChunks({ maxFrames: 4 }))).toBe(expected, { y: body('abcd', 4), z: body('ef', 2) });
    });
  });
});

describe('BodyFillers on one deadline queue (the lanes of a sink)', () => {
  it('closes each body flushInterval after its own first item, with one timer for all', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const a$ = hot('-a--a-----a---|');
      const b$ = hot('---b--b-------|');
      // a's body opens at 1 (due 6), b's at 3 (due 8); a's next at 10 (due 15, after the end).
      const expected = '------A-B-----(A|)';
      const both = new Observable<string>((subscriber) => {
        const deadlines = new Deadlines(5, asyncScheduler);
        const limits = { maxFrames: 10, maxBytes: 100, headroom: HEADROOM, bodies: { take: (n: number) => Buffer.alloc(n), give: () => {} } };
        const filler = (name: string): BodyFiller<string> =>
          new BodyFiller<string>(
            limits,
            {
              count: () => 1,
              write: (s, target, at) => target.write(s, at, 'latin1'),
              frames: () => 1,
              accept: () => true,
              startsNewBody: () => false,
              filled: () => subscriber.next(name),
            },
            deadlines,
          );
        const a = filler('A');
        const b = filler('B');
        const subscription = merge(
          a$.pipe(map((item) => a.push(item))),
          b$.pipe(map((item) => b.push(item))),
        ).subscribe({
          complete: () => {
            a.flush();
            b.flush();
            deadlines.clear();
            subscriber.complete();
          },
        });
        return () => {
          deadlines.clear();
          subscription.unsubscribe();
        };
      });
      expectObservable(both).toBe(expected);
    });
  });
});

describe('fillBodies', () => {
  it('emits flushInterval after the first item of a body (period trigger)', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('  -a-b---------c---|');
      // c arrives at 13; its timer would fire at 18, but completion at 17 flushes it first.
      const expected = '    ------x----------(y|)';
      expectObservable(source.pipe(fill())).toBe(expected, { x: body('ab', 2), y: body('c', 1) });
    });
  });

  it('starts the timer at a body first item, not on a fixed period', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('a------b-------|');
      const expected = '  -----x------y--|';
      expectObservable(source.pipe(fill())).toBe(expected, { x: body('a', 1), y: body('b', 1) });
    });
  });

  it('emits as soon as maxFrames is reached, and cancels that body timer', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      // a's timer (due at 6) is gone with its body: d's body waits its own 5, to 9.
      const source = hot('-abcd-------|');
      const expected = '  ---x-----y--|';
      expectObservable(source.pipe(fill())).toBe(expected, { x: body('abc', 3), y: body('d', 1) });
    });
  });

  it('emits on reaching maxBytes, cuts before an item that would pass it, and sends a bigger one alone at once', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      // a+b = 5 bytes: full at once. d (7) would pass maxBytes with c, so c leaves when d arrives,
      // and d, bigger than maxBytes by itself, leaves alone at once rather than wait for its timer.
      const source = hot('-ab-cd-------|', { a: 'xx', b: 'yyy', c: 'z', d: 'wwwwwww' });
      const expected = '  --x--(yz)----|';
      expectObservable(source.pipe(fill({ maxBytes: 5 }))).toBe(expected, {
        x: body('xxyyy', 2),
        y: body('z', 1),
        z: body('wwwwwww', 1),
      });
    });
  });

  it('sends an item bigger than maxBytes or heavier than maxFrames alone at once, from an empty body too', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-g-a------e-b------|', { g: 'gggggggg', a: 'a', e: 'e5', b: 'b' });
      const expected = '  -x------y-z------w-|';
      expectObservable(source.pipe(fill({ maxBytes: 5 }))).toBe(expected, {
        x: body('gggggggg', 1),
        y: body('a', 1),
        z: body('e5', 5),
        w: body('b', 1),
      });
    });
  });

  it('moves an item that would pass maxFrames to the next body, bytes intact, and sends a heavy one alone', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      // maxFrames 3: a(1)+b(2) is full at once; c(2) opens a body that d(2) would pass, so c leaves
      // when d arrives and d, already written after c, moves to a body of its own (its timer from
      // 5); e(5) does the same to d and, heavier than maxFrames by itself, leaves alone at once.
      const source = hot('-ab-cd-e----|', { a: 'a1', b: 'bb2', c: 'ccc2', d: 'dddd2', e: 'eeeee5' });
      const expected = '  --x--y-(wz)-|';
      expectObservable(source.pipe(fill())).toBe(expected, {
        x: body('a1bb2', 3),
        y: body('ccc2', 2),
        w: body('dddd2', 2),
        z: body('eeeee5', 5),
      });
    });
  });

  it('the moved item starts the timer of its new body', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-a-b--------|', { a: 'aa2', b: 'bbb2' });
      const expected = '  ---x----y---|';
      expectObservable(source.pipe(fill())).toBe(expected, { x: body('aa2', 2), y: body('bbb2', 2) });
    });
  });

  it('cuts a body when startsNewBody says the next item may not join it', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-aAb------|', { a: 'ax', A: 'ay', b: 'bx' });
      const expected = '  ---x----y-|';
      const otherLetter = (last: string, next: string): boolean => last[0] !== next[0];
      expectObservable(source.pipe(fill({ startsNewBody: otherLetter }))).toBe(expected, {
        x: body('axay', 2),
        y: body('bx', 1),
      });
    });
  });

  it('drops an item accept() refuses: not in the body, and a dropped first item starts no timer', () => {
    const accepted: [string, number, number][] = [];
    newScheduler().run(({ hot, expectObservable }) => {
      // x at 1 is dropped (its timer would fire at 6): the body's timer starts at a, at 3.
      const source = hot('-x-axb------|', { x: 'xyz', a: 'a', b: 'bb' });
      const expected = '  --------w---|';
      const accept = (item: string, bytes: number, frames: number): boolean => {
        accepted.push([item, bytes, frames]);
        return item !== 'xyz';
      };
      expectObservable(source.pipe(fill({ accept }))).toBe(expected, { w: body('abb', 2) });
    });
    expect(accepted).toEqual([
      ['xyz', 3, 1],
      ['a', 1, 1],
      ['xyz', 3, 1],
      ['bb', 2, 1],
    ]);
  });

  it('emits nothing for a body whose every item was dropped', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      expectObservable(hot('-x-x--------|').pipe(fill({ accept: () => false }))).toBe('------------|');
    });
  });

  it('skips an item the writer gives 0 bytes: no accept(), no timer', () => {
    const accepted: string[] = [];
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-e-aeb------|', { e: '', a: 'a', b: 'b' });
      const expected = '  --------w---|';
      const accept = (item: string): boolean => accepted.push(item) > 0;
      expectObservable(source.pipe(fill({ accept }))).toBe(expected, { w: body('ab', 2) });
    });
    expect(accepted).toEqual(['a', 'b']);
  });

  it('flushes the partial body on completion', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      expectObservable(hot('-ab|').pipe(fill())).toBe('---(x|)', { x: body('ab', 2) });
    });
  });

  it('emits nothing for an empty source', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      expectObservable(hot('---|').pipe(fill())).toBe('---|');
    });
  });

  it('emits nothing and starts no timer for a source that never emits', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const never = cold('-');
      expectObservable(never.pipe(fill()), '^ 100ms !').toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^ 100ms !');
    });
  });

  describe('once the subscriber is gone', () => {
    // A flush after error or unsubscription is swallowed by the closed subscriber; rxjs reports
    // such late notifications here, so a timer left running shows.
    const late: string[] = [];
    beforeEach(() => {
      late.length = 0;
      config.onStoppedNotification = (notification) => late.push(notification.kind);
    });
    afterEach(() => {
      config.onStoppedNotification = null;
    });

    it('passes an error on, drops the partial body and cancels its timer', () => {
      newScheduler().run(({ hot, expectObservable }) => {
        expectObservable(hot('-a-#').pipe(fill())).toBe('---#');
      });
      expect(late).toEqual([]);
    });

    it('cancels the timer when unsubscribed', () => {
      newScheduler().run(({ hot, expectObservable }) => {
        expectObservable(hot('-a--------|').pipe(fill()), '^--!').toBe('---');
      });
      expect(late).toEqual([]);
    });
  });

  it('uses the scheduler it is given', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot('-a--------|');
      expectObservable(source.pipe(fill({ scheduler, flushIntervalMs: 3 }))).toBe('----x-----|', { x: body('a', 1) });
    });
  });
});
