// A deadline on a promise, kept on a scheduler: the collector's stop and the spool's file-system
// steps wait this way, so their timing runs on virtual time in tests like every other timer.
import type { SchedulerLike, Subscription } from './rx';

/**
 * `work`'s outcome, or `late()`'s once `ms` have passed on `scheduler` without one (a `late` that
 * throws rejects). The timer is cancelled as soon as either settles; `work` itself runs on.
 */
export async function within<T, U>(ms: number, scheduler: SchedulerLike, work: Promise<T>, late: () => U): Promise<T | U> {
  let timer: Subscription | undefined;
  const timeout = new Promise<U>((resolve, reject) => {
    timer = scheduler.schedule(() => {
      try {
        resolve(late());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    timer?.unsubscribe();
  }
}
