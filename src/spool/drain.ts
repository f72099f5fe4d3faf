// The spool's two moves, as operators the sink composes (sink/spooling.ts):
//
//   toSpoolWhileBusy: a serve's batches, in order; each goes to disk while the spool holds
//                     anything (live lines wait behind it) or the caller says memory is past its
//                     high-water mark; what the spool takes is gone from the stream, what it
//                     refuses (cap, floor, disk error) goes on to be posted from memory.
//   drainSpool:       post a serve's spooled batches one at a time, oldest first, each acked
//                     (never handed out again, even after a restart) once it is settled.
//
// One post at a time is what keeps a serve's lines in order through an outage; it is also fast
// enough: the bench's 120 s outage at 5,000 records/s spools ~60 MB of gzip in ~600 batches of
// 1 MiB of frames, which one connection posts in seconds.
import { concat, concatMap, defer, EMPTY, ignoreElements, Observable, of, repeat, Subscription, takeWhile, type OperatorFunction } from '../rx';
import type { SpooledBatch } from './format';
import type { AppendOutcome, ServeSpool } from './store';

export interface ToSpoolConfig<B> {
  readonly spool: ServeSpool;
  /** Memory says "spool this one even though the spool is empty" (a serve past its high-water mark). */
  readonly overHighWater: () => boolean;
  /** The batch as the spool stores it (gzipped: this is where the CPU goes, off the event loop). */
  readonly toSpooled: (batch: B) => Observable<SpooledBatch>;
  /** The spool has it (its memory can be let go, its drainer woken) or refused it (it goes on). */
  readonly onOutcome: (batch: B, outcome: AppendOutcome) => void;
}

/** Batches the spool did not take, in their order; see the file's head. */
export function toSpoolWhileBusy<B>(config: ToSpoolConfig<B>): OperatorFunction<B, B> {
  const { spool } = config;
  // concatMap: one decision and one append at a time, so the spool's order is the stream's. A
  // slow disk makes batches wait here, on the serve's ledger, where the buffer cap turns the
  // wait into drops rather than memory.
  return concatMap((batch) => {
    if (spool.pending === 0 && !config.overHighWater()) return of(batch);
    return config.toSpooled(batch).pipe(
      concatMap((spooled) => spool.append(spooled)),
      concatMap((outcome) => {
        config.onOutcome(batch, outcome);
        return outcome === 'spooled' ? EMPTY : of(batch);
      }),
    );
  });
}

const END = Symbol('end of spool');

/**
 * Posts the spool's batches oldest first until it has none, and completes. `post` settles one
 * batch (delivered, or given up for good) and completes; it should not error. Each batch is acked
 * after its post completes, then emitted. Unsubscribing leaves the batch in flight pending on
 * disk: it is posted again after a restart (at most one duplicate per serve).
 */
export function drainSpool(spool: ServeSpool, post: (batch: SpooledBatch) => Observable<unknown>): Observable<SpooledBatch> {
  return defer(() => spool.next()).pipe(
    concatMap((entry) =>
      entry === undefined ? of(END) : concat(post(entry.batch).pipe(ignoreElements()), defer(() => spool.ack(entry)).pipe(ignoreElements()), of(entry.batch)),
    ),
    repeat(), // the next batch; repeat resubscribes without nesting, however long the spool
    takeWhile((x): x is SpooledBatch => x !== END),
  );
}

/**
 * One drainer per spool with anything in it, for the whole sink: a serve's spool drains whether
 * or not the serve has a lane open (it may have gone quiet, or be one found at start-up).
 * kick() after every append: a drainer already running takes the new batch in turn; one that was
 * finishing when the batch landed is started again.
 */
export class SpoolDrainers {
  readonly #running = new Map<ServeSpool, { kickedAgain: boolean; subscription: Subscription }>();
  #stopped = false;

  constructor(
    private readonly post: (batch: SpooledBatch, spool: ServeSpool) => Observable<unknown>,
    private readonly hooks: { readonly started?: (spool: ServeSpool) => void; readonly stopped?: (spool: ServeSpool) => void } = {},
  ) {}

  kick(spool: ServeSpool): void {
    if (this.#stopped) return;
    const running = this.#running.get(spool);
    if (running !== undefined) {
      running.kickedAgain = true;
      return;
    }
    if (spool.pending === 0) return;
    const state = { kickedAgain: false, subscription: new Subscription() };
    this.#running.set(spool, state);
    this.hooks.started?.(spool);
    const done = (): void => {
      this.#running.delete(spool);
      this.hooks.stopped?.(spool);
      // An append that landed after the drainer's last look: start again. Only then: a spool
      // whose ack failed (the disk) keeps a pending count it cannot drain, and must not spin.
      if (state.kickedAgain) this.kick(spool);
    };
    state.subscription.add(drainSpool(spool, (batch) => this.post(batch, spool)).subscribe({ complete: done, error: done }));
  }

  /** How many spools are being drained right now. */
  get draining(): number {
    return this.#running.size;
  }

  /** Stops every drainer; batches in flight stay pending on disk for the next start. */
  stop(): void {
    this.#stopped = true;
    const running = [...this.#running];
    this.#running.clear();
    for (const [spool, { subscription }] of running) {
      subscription.unsubscribe();
      this.hooks.stopped?.(spool);
    }
  }
}
