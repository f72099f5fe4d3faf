// Items to batches: a batch is emitted when it holds maxItems, when it reaches maxBytes, or
// flushIntervalMs after its *first* item arrived, whichever comes first; a partial batch is
// flushed when the source completes. Subscribed by hand because no stock operator starts its
// timer at a batch's first item and cancels it on a size cut (bufferTime ticks regardless of
// data, and bufferCount/bufferWhen cannot combine the three triggers without racing).
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export interface BatchOptions<T> {
  readonly maxItems: number; // emit as soon as a batch weighs this much (never more, but for one item heavier by itself)
  readonly maxBytes: number; // never exceed this total (an item bigger than it travels alone)
  readonly flushIntervalMs: number; // longest the first item of a batch waits
  readonly sizeOf: (item: T) => number; // bytes an item adds to a batch
  /** What an item counts toward maxItems; 1 when absent. The sink batches records weighing their frames. */
  readonly weightOf?: (item: T) => number;
  /** True when `next` may not share a batch with `first` (e.g. the serve's credentials changed). */
  readonly startsNewBatch?: (first: T, next: T) => boolean;
  readonly scheduler?: SchedulerLike; // asyncScheduler by default; TestScheduler in marbles
}

export function batchByTimeOrSize<T>(options: BatchOptions<T>): OperatorFunction<T, T[]> {
  const { maxItems, maxBytes, flushIntervalMs, sizeOf, weightOf, startsNewBatch } = options;
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let bytes = 0;
      let weight = 0;
      let timer: Subscription | undefined;

      const flush = (): void => {
        timer?.unsubscribe();
        timer = undefined;
        if (batch.length === 0) return;
        const full = batch;
        batch = [];
        bytes = 0;
        weight = 0;
        subscriber.next(full);
      };

      const sourceSubscription = source.subscribe({
        next: (item) => {
          const size = sizeOf(item);
          const itemWeight = weightOf === undefined ? 1 : weightOf(item);
          const first = batch[0];
          // Cut before the item when it would overflow either limit or cannot join this batch.
          if (
            first !== undefined &&
            (bytes + size > maxBytes || weight + itemWeight > maxItems || startsNewBatch?.(first, item) === true)
          ) {
            flush();
          }
          if (batch.length === 0) timer = scheduler.schedule(flush, flushIntervalMs);
          batch.push(item);
          bytes += size;
          weight += itemWeight;
          if (weight >= maxItems || bytes >= maxBytes) flush();
        },
        error: (err: unknown) => {
          timer?.unsubscribe();
          subscriber.error(err);
        },
        complete: () => {
          flush();
          subscriber.complete();
        },
      });

      return () => {
        timer?.unsubscribe();
        sourceSubscription.unsubscribe();
      };
    });
}
