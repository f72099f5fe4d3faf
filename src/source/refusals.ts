// Connections closed at accept, or closed to make room for a newer one (admission.ts), counted
// per serve and reported in one line per reason and interval (throttle.ts): the first of a reason
// at once (so a flood is seen when it starts), then what piled up, once per interval while it goes
// on. A line per connection would be a flood of our own.
import type { SchedulerLike } from '../rx';
import { KeyedThrottle } from '../throttle';
import type { RefusalReason } from './admission';

export class RefusalReport {
  readonly #throttle: KeyedThrottle<RefusalReason, RefusalReason>;

  /** `scheduler` keeps the intervals; the daemon's default never keeps the process alive. */
  constructor(intervalMs: number, scheduler: SchedulerLike, report: (reason: RefusalReason, refused: number) => void) {
    this.#throttle = new KeyedThrottle(intervalMs, scheduler, (reason, { held }) => report(reason, Math.max(held, 1)));
  }

  refused(reason: RefusalReason): void {
    this.#throttle.offer(reason, reason);
  }

  /** The serve stopped listening: says what is still counted, and stops. */
  close(): void {
    this.#throttle.flush();
  }
}
