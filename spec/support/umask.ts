// The process umask is process-wide: a spec that sets one must put the old one back whatever
// happens, or every later test in the worker runs under it.

/** Runs `work` with `umask` in force, then restores the one before (also when `work` fails). */
export async function withUmask<T>(umask: number, work: () => Promise<T>): Promise<T> {
  const previous = process.umask(umask);
  try {
    return await work();
  } finally {
    process.umask(previous);
  }
}
