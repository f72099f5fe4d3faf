// Records to request bodies, written in place. Each record's frames are written by the formatter
// straight into the serve's open body, so a record costs no Buffer of its own (the bench measured
// those per-record buffers, and the 64 KiB slabs they were cut from, piling up as promoted array
// buffers between mark-compacts, with the young generation growing on the objects that held them).
//
// A body closes when it holds maxFrames frames, when the next record would take it past maxBytes,
// or flushIntervalMs after its *first* record, whichever comes first; and when the source
// completes. No stock operator starts its timer at a batch's first item and cancels it on a size
// cut (bufferTime ticks regardless of data), hence the hand-made subscriber.
//
// Each body keeps `headroom` free bytes in front of its records, so the frames that must open it
// (L10 notices, known only when it closes) go in without a copy. Its capacity follows the serve's
// load: a quiet serve's body starts small (MIN_RECORD_BYTES), a body that fills grows by doubling
// (one copy), and the next body starts at the size the last one needed. A busy serve thus writes
// into full-size bodies from the pool (BodyPool), and a quiet one never holds a megabyte open.
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from '../rx';

/** Where bodies come from and go back to when the filler drops one unused (a pool, or the heap). */
export interface BodySupply {
  /** A buffer of at least `bytes` bytes (records go up to `bytes` only, until the body grows). */
  readonly take: (bytes: number) => Buffer;
  /** A buffer from take() that nothing references any more. */
  readonly give: (buffer: Buffer) => void;
}

export interface FillOptions<T> {
  readonly maxFrames: number; // close as soon as a body holds this many (a heavier item travels alone)
  readonly maxBytes: number; // record bytes a body may hold (an item bigger than this travels alone)
  readonly flushIntervalMs: number; // longest the first record of a body waits
  readonly headroom: number; // free bytes kept in front of the records
  /**
   * Writes `item` into `target` from `at`, never past `end`: returns the bytes written, minus the
   * bytes needed when it does not fit (nothing committed), or 0 to skip the item altogether.
   */
  readonly write: (item: T, target: Buffer, at: number, end: number) => number;
  readonly framesOf: () => number; // frames of the item last written
  /** Called once per written item: false drops it (the caller counts it), true keeps it. */
  readonly accept: (item: T, bytes: number, frames: number) => boolean;
  /** True when `next` may not share a body with `last` (e.g. the serve's credentials changed). */
  readonly startsNewBody?: (last: T, next: T) => boolean;
  readonly bodies: BodySupply;
  readonly scheduler?: SchedulerLike; // asyncScheduler by default; TestScheduler in marbles
}

/** A closed body: records' frames at [headroom, end) of `buffer`, free room before them. */
export interface FilledBody<T> {
  readonly buffer: Buffer;
  readonly end: number;
  readonly frames: number;
  readonly last: T; // the last item written (the serve a batch goes out as)
}

/** Record bytes a new body starts with when the serve has been quiet. */
export const MIN_RECORD_BYTES = 16 * 1024;

export function fillBodies<T>(options: FillOptions<T>): OperatorFunction<T, FilledBody<T>> {
  const { maxFrames, maxBytes, flushIntervalMs, headroom, write, framesOf, accept, startsNewBody, bodies } = options;
  const scheduler = options.scheduler ?? asyncScheduler;
  /** Record capacity to ask for: at least `bytes`, a power of two from MIN_RECORD_BYTES, maxBytes when that is less. */
  const capacityFor = (bytes: number): number => {
    if (bytes > maxBytes) return bytes; // travels alone
    let c = MIN_RECORD_BYTES;
    while (c < bytes) c *= 2;
    return Math.min(c, maxBytes);
  };

  return (source) =>
    new Observable<FilledBody<T>>((subscriber) => {
      let buffer: Buffer | undefined; // the open body (records from `headroom`)
      let limit = 0; // where its records must end: headroom + the capacity asked for
      let end = headroom;
      let frames = 0;
      let last: T | undefined;
      let nextCapacity = Math.min(MIN_RECORD_BYTES, maxBytes);
      let timer: Subscription | undefined;

      const open = (recordBytes: number): Buffer => {
        limit = headroom + capacityFor(recordBytes);
        const b = bodies.take(limit);
        buffer = b;
        end = headroom;
        return b;
      };

      const flush = (): void => {
        timer?.unsubscribe();
        timer = undefined;
        const b = buffer;
        if (b === undefined || last === undefined) return;
        const filled: FilledBody<T> = { buffer: b, end, frames, last };
        nextCapacity = capacityFor(Math.min(end - headroom, maxBytes)); // a lone giant does not set the size
        buffer = undefined;
        end = headroom;
        frames = 0;
        last = undefined;
        subscriber.next(filled);
      };

      /** Room for `needed` more bytes: a bigger buffer with the records so far copied over. */
      const grow = (b: Buffer, needed: number): Buffer => {
        const used = end - headroom;
        limit = headroom + capacityFor(Math.min(maxBytes, Math.max(used + needed, 2 * (limit - headroom))));
        if (b.length >= limit) return b; // the supply gave more than asked (a pooled buffer): room enough
        const bigger = bodies.take(limit);
        b.copy(bigger, headroom, headroom, end);
        bodies.give(b);
        buffer = bigger;
        return bigger;
      };

      const onItem = (item: T): void => {
        if (last !== undefined && startsNewBody?.(last, item) === true) flush();
        let b = buffer ?? open(nextCapacity);
        let n = write(item, b, end, limit);
        if (n === 0) return;
        if (n < 0) {
          const needed = -n;
          // Records already here and the newcomer would pass maxBytes together: it opens the next body.
          if (last !== undefined && end - headroom + needed > maxBytes) {
            flush();
            b = open(Math.max(nextCapacity, needed));
          } else if (last === undefined) {
            bodies.give(b); // empty and too small: trade it for one that fits
            b = open(Math.max(nextCapacity, needed));
          } else {
            b = grow(b, needed);
          }
          n = write(item, b, end, limit);
          if (n <= 0) throw new Error(`fillBodies: the writer needed ${needed} bytes, then refused ${limit - end}`);
        }
        const itemFrames = framesOf();
        if (!accept(item, n, itemFrames)) return;
        if (last !== undefined && frames + itemFrames > maxFrames) {
          // Past the frame cap with what is here: the item moves to the next body.
          const bytes = Buffer.from(b.subarray(end, end + n));
          flush();
          b = open(Math.max(nextCapacity, n));
          bytes.copy(b, end);
        }
        if (last === undefined) timer = scheduler.schedule(flush, flushIntervalMs);
        end += n;
        frames += itemFrames;
        last = item;
        if (frames >= maxFrames || end - headroom >= maxBytes) flush();
      };

      const sourceSubscription = source.subscribe({
        next: (item) => {
          try {
            onItem(item);
          } catch (err) {
            subscriber.error(err);
          }
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
