// Starting a serve is synchronous work on the event loop: its pipeline (a few KB that all
// survive, so the young-generation GC copies them twice), then lstat the path, stat its
// directory, socket() + bind() (bind creates the socket's inode: 0.1–1 ms on a loaded ext4),
// lstat + chmod once listening. Done in one go, 10,000 new serves held the loop for seconds
// (docs/benchmarks.md, *Large serve sets*), so every other tenant's socket went unread and its
// backends blocked in send(). A gate runs such jobs in slices of at most `sliceMs`, and
// gives the loop back between slices (setImmediate: after the pending I/O is handled).
//
// Jobs are kept in a Set, so that one withdrawn before its turn (a serve stopped by a reload, or
// shutdown) leaves the queue in O(1).

/** Runs `job` when its turn comes; the function returned withdraws it if it has not run yet. */
export type Gate = (job: () => void) => () => void;

/** A gate that runs jobs in order, as many as fit in `sliceMs` per turn of the event loop. */
export function sliceGate(sliceMs: number): Gate {
  const queue = new Set<{ readonly run: () => void }>();
  let scheduled = false;

  const runSlice = (): void => {
    scheduled = false;
    const until = performance.now() + sliceMs;
    for (const job of queue) {
      queue.delete(job);
      job.run();
      if (performance.now() >= until) break;
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

/** A gate that runs every job at once, in the caller's turn: the default where none is given. */
export const immediateGate: Gate = (job) => {
  job();
  return () => undefined;
};
