// Starting a serve is synchronous work on the event loop: its pipeline (a few KB that all
// survive, so the young-generation GC copies them twice), then lstat the path, stat its
// directory, socket() + bind() (bind creates the socket's inode: 0.1–1 ms on a loaded ext4),
// lstat + chmod once listening. Done in one go, 10,000 new serves held the loop for seconds
// (docs/benchmarks.md, *Large serve sets*), so every other tenant's socket went unread and its
// backends blocked in send(). A gate runs such jobs in slices, and gives the loop back between
// slices (setImmediate: after the pending I/O is handled).
//
// A slice is bounded by work, never by the wall clock: at most `callsPerSlice` calls, and at
// most `sliceMs` of the process's CPU time. Slices of 5 ms of wall time did more work the less
// the machine was loaded, and a slice in which a loaded machine descheduled the daemon was
// 47–99 ms of wall time; a few dozen calls are 1–2 ms of work on any machine, and the CPU bound
// keeps slow binds (an ext4 skipping recently freed inodes) from stretching one.
//
// Jobs are kept in a Set, so that one withdrawn before its turn (a serve stopped by a reload, or
// shutdown) leaves the queue in O(1). A job with much to do (applying a serve set of 10,000) does
// a little of it per call and returns `true` while there is more: it keeps its place at the head
// and is called again, in this slice while it lasts, else in the next.

/** Runs `job` when its turn comes (again while it returns true); the function returned withdraws it. */
export type Gate = (job: () => boolean | void) => () => void;

/** Calls per slice at most: each a socket to bind, or a step of a serve set's apply (rebindOnServeSet's APPLY_STEP). */
export const CALLS_PER_SLICE = 32;

/**
 * CPU time of this process so far in ms, every thread counted: a bound of the event loop's own
 * that errs on the short side (getrusage, about a microsecond; /proc/thread-self is a file to read).
 */
export function processCpuMs(): number {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1_000;
}

/** A gate that runs jobs in order, as many calls per turn of the event loop as `callsPerSlice` and `sliceMs` of CPU time allow. */
export function sliceGate(sliceMs: number, callsPerSlice = CALLS_PER_SLICE, cpuMs: () => number = processCpuMs): Gate {
  const queue = new Set<{ readonly run: () => boolean | void }>();
  let scheduled = false;

  const runSlice = (): void => {
    scheduled = false;
    const until = cpuMs() + sliceMs;
    let calls = 0;
    const spent = (): boolean => calls >= callsPerSlice || cpuMs() >= until;
    for (const job of queue) {
      calls += 1;
      let more = job.run() === true;
      while (more && queue.has(job) && !spent()) {
        calls += 1;
        more = job.run() === true;
      }
      if (!more) queue.delete(job);
      if (spent()) break;
    }
    schedule();
  };
  const schedule = (): void => {
    if (scheduled || queue.size === 0) return;
    scheduled = true;
    setImmediate(runSlice);
  };

  return (run) => {
    const job = { run };
    queue.add(job);
    schedule();
    return () => {
      queue.delete(job);
    };
  };
}

/** A gate that runs every job at once, to its end, in the caller's turn: the default where none is given. */
export const immediateGate: Gate = (job) => {
  while (job() === true);
  return () => undefined;
};
