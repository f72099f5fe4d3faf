// A ServeSpool in memory whose operations complete synchronously when subscribed (lazily, as the disk store's), so that the timing of what
// uses it (the sink's spooling) runs on a TestScheduler's virtual clock. Same contract as the
// disk store (src/spool/store.ts): oldest first, an entry handed out once, acked to be gone.
import { defer, of, type Observable } from 'rxjs';
import type { SpooledBatch } from '../../src/spool/format';
import type { AppendOutcome, ServeSpool, SpoolCounts, SpoolEntry } from '../../src/spool/store';

export class MemorySpool implements ServeSpool {
  readonly #queue: SpooledBatch[] = [];
  readonly #handedOut = new Set<SpoolEntry>();
  /** What append answers; 'spooled' unless a test says otherwise. */
  refuseWith: AppendOutcome | undefined;
  readonly appended: SpooledBatch[] = [];
  readonly acked: SpooledBatch[] = [];

  constructor(readonly socketPath = '/run/a.sock') {}

  get pending(): number {
    return this.#queue.length + this.#handedOut.size;
  }

  counts(): SpoolCounts {
    return { bytes: 0, batches: this.pending, oldestMs: this.#queue[0]?.createdAtMs };
  }

  append(batch: SpooledBatch): Observable<AppendOutcome> {
    return defer(() => this.#append(batch));
  }

  #append(batch: SpooledBatch): Observable<AppendOutcome> {
    if (this.refuseWith !== undefined) return of(this.refuseWith);
    this.#queue.push(batch);
    this.appended.push(batch);
    return of('spooled');
  }

  next(): Observable<SpoolEntry | undefined> {
    return defer(() => this.#next());
  }

  #next(): Observable<SpoolEntry | undefined> {
    const batch = this.#queue.shift();
    if (batch === undefined) return of(undefined);
    const entry = { batch };
    this.#handedOut.add(entry);
    return of(entry);
  }

  ack(entry: SpoolEntry): Observable<void> {
    return defer(() => this.#ack(entry));
  }

  #ack(entry: SpoolEntry): Observable<void> {
    if (!this.#handedOut.delete(entry)) throw new Error('ack of an entry not handed out');
    this.acked.push(entry.batch);
    return of(undefined);
  }
}
