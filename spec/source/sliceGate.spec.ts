// The slice gate: jobs in order, as many per turn of the event loop as fit in the slice, and a
// job with more to do (it returns true) called again, keeping its place, until it is done.
import { immediateGate, sliceGate } from '../../src/source/sliceGate';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Busy for `ms`: a job's synchronous work. */
const spin = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('sliceGate', () => {
  it('calls a job again while it returns true, over as many turns as its work needs, ahead of later jobs', async () => {
    const gate = sliceGate(5);
    const log: string[] = [];
    let left = 20;
    gate(() => {
      spin(1);
      log.push('walk');
      return --left > 0;
    });
    gate(() => void log.push('after'));
    let turns = 0;
    while (!log.includes('after')) {
      await turn();
      turns++;
    }
    expect(log).toEqual([...Array.from({ length: 20 }, () => 'walk'), 'after']);
    expect(turns).toBeGreaterThanOrEqual(3); // 20 ms of work in slices of 5 ms
  });

  it('stops calling a job that is withdrawn between its calls', async () => {
    const gate = sliceGate(1);
    let calls = 0;
    const withdraw = gate(() => {
      calls++;
      spin(2);
      return true;
    });
    await turn();
    await turn();
    withdraw();
    const seen = calls;
    await turn();
    await turn();
    expect(seen).toBeGreaterThan(0);
    expect(calls).toBe(seen);
  });

  it('the immediate gate runs a job to its end in the caller\'s turn', () => {
    let left = 3;
    immediateGate(() => --left > 0);
    expect(left).toBe(0);
  });
});
