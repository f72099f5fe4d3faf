// The sink's post slots: a pure line of takers, granted one slot at a time, round-robin.
import { PostSlots, type SlotTaker } from '../../src/sink/postSlots';

/** A taker holding `wanted` batches; each grant posts one of them (recorded in `log`), and it gets back in line while more are left. */
function taker(slots: PostSlots, name: string, wanted: number, log: string[]): SlotTaker & { start(): void } {
  let left = wanted;
  const self = {
    slotGranted(): boolean {
      if (left === 0) return false;
      left -= 1;
      log.push(name);
      if (left > 0 && slots.take(self)) self.slotGranted();
      return true;
    },
    start(): void {
      if (slots.take(self)) self.slotGranted();
    },
  };
  return self;
}

describe('PostSlots', () => {
  it('grants at once while slots are free, then in line: one slot per turn, round-robin, so a serve with many batches delays one with a single batch by one post', () => {
    const slots = new PostSlots(1);
    const log: string[] = [];
    taker(slots, 'a', 4, log).start();
    taker(slots, 'b', 1, log).start();
    taker(slots, 'c', 2, log).start();
    expect(log).toEqual(['a']); // one slot, taken
    expect(slots.waiting).toBe(3);
    for (let i = 0; i < 6; i += 1) slots.release();
    expect(log).toEqual(['a', 'a', 'b', 'c', 'a', 'c', 'a']);
    slots.release();
    expect(slots.free).toBe(1);
    expect(slots.waiting).toBe(0);
  });

  it('passes a slot its taker no longer needs on to the next in line', () => {
    const slots = new PostSlots(1);
    const log: string[] = [];
    taker(slots, 'a', 1, log).start();
    slots.take({ slotGranted: () => false }); // gone meanwhile (an aborted outbox)
    taker(slots, 'b', 1, log).start();
    slots.release();
    expect(log).toEqual(['a', 'b']);
    expect(slots.free).toBe(0);
  });

  it('counts a slot released while it grants (a post that ended at once) and grants it on', () => {
    const slots = new PostSlots(1);
    const log: string[] = [];
    const instant = (name: string): SlotTaker => ({
      slotGranted: () => {
        log.push(name);
        slots.release(); // done before slotGranted returns
        return true;
      },
    });
    taker(slots, 'a', 1, log).start();
    slots.take(instant('x'));
    slots.take(instant('y'));
    slots.release();
    expect(log).toEqual(['a', 'x', 'y']);
    expect(slots.free).toBe(1);
  });

  it('grants nothing once closed (the sink aborts): slots its posts free start no others', () => {
    const slots = new PostSlots(1);
    const log: string[] = [];
    taker(slots, 'a', 1, log).start();
    taker(slots, 'b', 1, log).start();
    slots.close();
    slots.release();
    expect(log).toEqual(['a']);
  });
});
