// Starting a serve is synchronous work on the event loop: its pipeline (a few KB that all
// survive, so the young-generation GC copies them twice), then lstat the path, stat its
// directory, socket() + bind() (bind creates the socket's inode: 0.1–1 ms on a loaded ext4),
// lstat + chmod once listening. Done in one go, 10,000 new serves held the loop for seconds
// (docs/benchmarks.md, *Large serve sets*), so every other tenant's socket went unread and its
// backends blocked in send(). A gate runs such jobs in slices of at most `sliceMs`, and
// gives the loop back between slices (setImmediate: after the pending I/O is handled).
//
// Jobs are kept in a Set, so that one withdrawn before its turn (a serve stopped by a reload, or
// shutdown) leaves the queue in O(1). A job with much to do (applying a serve set of 10,000) does
// a little of it per call and returns `true` while there is more: it keeps its place at the head
// and is called again, in this slice while it lasts, else in the next.

/** Runs `job` when its turn comes (again while it returns true); the function returned withdraws it. */
export type Gate = (job: () => boolean | void) => () => void;

/**
 * Milliseconds on a monotonic clock. Not the global `performance`, whose first use loads
 * perf_hooks (~0.3 MB of an idle daemon's RSS) for a clock read a few times per slice.
 */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A gate that runs jobs in order, as many as fit in `sliceMs` per turn of the event loop. */
export function sliceGate(sliceMs: number): Gate {
  const queue = new Set<{ readonly run: () => boolean | void }>();
  let scheduled = false;

  const runSlice = (): void => {
    scheduled = false;
    const until = nowMs() + sliceMs;
    for (const job of queue) {
      let more = job.run() === true;
      while (more && queue.has(job) && nowMs() < until) more = job.run() === true;
      if (!more) queue.delete(job);
      if (nowMs() >= until) break;
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
