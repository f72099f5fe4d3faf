// The slice gate: jobs in order, as many per turn of the event loop as fit in the slice, and a
// job with more to do (it returns true) called again, keeping its place, until it is done. A
// slice is bounded by work (calls, CPU time), never by the wall clock.
import { readFileSync } from 'node:fs';
import { CALLS_PER_SLICE, immediateGate, processCpuMs, sliceGate } from '../../src/source/sliceGate';

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

  it('calls at most CALLS_PER_SLICE jobs a turn, however little each does', async () => {
    const gate = sliceGate(5);
    const perTurn: number[] = [0];
    let done = 0;
    for (let i = 0; i < 10 * CALLS_PER_SLICE; i++) gate(() => void (perTurn[perTurn.length - 1]! += 1, done++));
    while (done < 10 * CALLS_PER_SLICE) {
      await turn();
      perTurn.push(0);
    }
    expect(Math.max(...perTurn)).toBe(CALLS_PER_SLICE);
  });

  it('ends a slice once its jobs used sliceMs of CPU time', async () => {
    let cpu = 0;
    const gate = sliceGate(5, 1_000, () => cpu);
    const perTurn: number[] = [0];
    let left = 30;
    gate(() => {
      cpu += 2; // each call 2 ms of CPU
      perTurn[perTurn.length - 1]! += 1;
      return --left > 0;
    });
    while (left > 0) {
      await turn();
      perTurn.push(0);
    }
    expect(perTurn.filter((n) => n > 0)).toEqual(Array(10).fill(3)); // 2, 4, then 6 >= 5: three a slice
  });

  it('does not count time the process waited without the CPU (a loaded machine descheduling it) as the slice\'s work', async () => {
    const gate = sliceGate(5, 4);
    const perTurn: number[] = [0];
    let left = 8;
    const nap = new Int32Array(new SharedArrayBuffer(4));
    gate(() => {
      Atomics.wait(nap, 0, 0, 10); // 10 ms of wall time, next to no CPU
      perTurn[perTurn.length - 1]! += 1;
      return --left > 0;
    });
    while (left > 0) {
      await turn();
      perTurn.push(0);
    }
    // A wall-clock gate runs one call a slice here (each is 10 ms > 5 ms): eight slices. On CPU time
    // the calls cap them at four a slice; the process's other threads (GC, compilers) may still
    // spend some of the slice's 5 ms while the loop waits, so a slice may end a call or two early.
    const slices = perTurn.filter((n) => n > 0);
    expect(Math.max(...slices)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...slices)).toBeLessThanOrEqual(4);
    expect(slices.length).toBeLessThan(8);
  });

  it("reads the CPU time of the process: never less than the event loop's own", () => {
    const threadMs = (): number => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
    const before = processCpuMs();
    const threadBefore = threadMs();
    while (threadMs() - threadBefore < 10); // 10 ms on a CPU, however long a loaded machine makes that
    expect(processCpuMs() - before).toBeGreaterThanOrEqual(9.9);
  });

  it('the immediate gate runs a job to its end in the caller\'s turn', () => {
    let left = 3;
    immediateGate(() => --left > 0);
    expect(left).toBe(0);
  });
});
