// Virtual-time diagrams of ReadTicks: which connection is read at which tick, and that the timer
// runs only while there is a connection to read.
import { TestScheduler } from 'rxjs/testing';
import { ReadTicks, type TickReader } from '../../src/source/readTicks';

describe('ReadTicks', () => {
  let scheduler: TestScheduler;
  let reads: string[]; // `name@time` for every read
  const reader = (name: string, onRead: () => void = () => undefined): TickReader => ({
    readTick: (now) => {
      reads.push(`${name}@${now}`);
      onRead();
    },
  });

  beforeEach(() => {
    reads = [];
    scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('reads every connection once per tick, on one timer, from the first tick after it was added', () => {
    scheduler.run(({ cold, flush }) => {
      const ticks = new ReadTicks(10, scheduler);
      const a = reader('a');
      const b = reader('b');
      // a from 0, b from 15; b leaves at 32, a at 45.
      const actions: Record<string, () => void> = { a: () => ticks.add(a), b: () => ticks.add(b), c: () => ticks.delete(b), d: () => ticks.delete(a) };
      cold('a 14ms b 16ms c 12ms d', actions).subscribe((act) => act());
      flush();
      expect(ticks.size).toBe(0);
    });
    expect(reads).toEqual(['a@10', 'a@20', 'b@20', 'a@30', 'b@30', 'a@40']);
  });

  it('stops its timer when the last connection leaves, and starts it again for the next', () => {
    scheduler.run(({ flush }) => {
      const ticks = new ReadTicks(5, scheduler);
      const a = reader('a');
      ticks.add(a);
      scheduler.schedule(() => ticks.delete(a), 12);
      scheduler.schedule(() => ticks.add(a), 100);
      scheduler.schedule(() => ticks.delete(a), 111);
      flush();
      // No tick between 12 and 100: nothing was scheduled, so nothing woke.
      expect(scheduler.now()).toBe(111);
    });
    expect(reads).toEqual(['a@5', 'a@10', 'a@105', 'a@110']);
  });

  it('skips a connection that ends during the tick and reads one that arrives during it', () => {
    scheduler.run(({ flush }) => {
      const ticks = new ReadTicks(10, scheduler);
      const c = reader('c');
      const b = reader('b', () => ticks.delete(b));
      const a = reader('a', () => {
        ticks.delete(b); // ends before its turn
        ticks.add(c);
      });
      ticks.add(a);
      ticks.add(b);
      scheduler.schedule(() => {
        ticks.delete(a);
        ticks.delete(c);
      }, 25);
      flush();
      expect(ticks.size).toBe(0);
    });
    expect(reads).toEqual(['a@10', 'c@10', 'a@20', 'c@20']);
  });

  it('a connection that ends the last one during its tick stops the timer; a new one restarts it', () => {
    scheduler.run(({ flush }) => {
      const ticks = new ReadTicks(10, scheduler);
      const late = reader('late');
      const once: TickReader = reader('once', () => {
        ticks.delete(once);
        ticks.add(late); // arrives while the timer is being stopped
      });
      ticks.add(once);
      scheduler.schedule(() => ticks.delete(late), 35);
      flush();
    });
    // Added during the tick, it is read in it too: what node holds for it is there already.
    expect(reads).toEqual(['once@10', 'late@10', 'late@20', 'late@30']);
  });
});
