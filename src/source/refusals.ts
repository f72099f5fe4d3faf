// Connections closed at accept, or closed to make room for a newer one (admission.ts), counted
// per serve and reported in one line per reason and interval: the first at once (so a flood is
// seen when it starts), then what piled up, once per interval while it goes on. A line per
// connection would be a flood of our own.
import type { RefusalReason } from './admission';

export class RefusalReport {
  private readonly counts = new Map<RefusalReason, number>();
  private timer: NodeJS.Timeout | undefined; // set while an interval is open

  constructor(
    private readonly intervalMs: number,
    private readonly report: (reason: RefusalReason, refused: number) => void,
  ) {}

  refused(reason: RefusalReason): void {
    if (this.timer === undefined) {
      this.report(reason, 1);
      this.open();
      return;
    }
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** The serve stopped listening: says what is still counted, and stops. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private open(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Quiet interval: the next refusal is logged at once again.
      if (this.flush()) this.open();
    }, this.intervalMs);
    this.timer.unref(); // a report never keeps the process alive
  }

  /** Reports and clears every count; true if there was any. */
  private flush(): boolean {
    if (this.counts.size === 0) return false;
    for (const [reason, refused] of this.counts) this.report(reason, refused);
    this.counts.clear();
    return true;
  }
}
