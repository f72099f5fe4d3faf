// Records to request bodies, written in place. Each record's frames are written by the formatter
// straight into the serve's open body, so a record costs no Buffer of its own (the bench measured
// those per-record buffers, and the 64 KiB slabs they were cut from, piling up as promoted array
// buffers between mark-compacts, with the young generation growing on the objects that held them).
//
// Records come in chunks (every record of one read of one connection, source/connection.ts), and
// a chunk is written in one loop: no operator, closure, timer or Subject per record. The lane
// (lane.ts) calls a BodyFiller directly; fillBodies() is the same filler as an operator.
//
// A body closes when it holds maxFrames frames, when the next record would take it past maxBytes,
// or flushIntervalMs after its *first* record, whichever comes first; and when the input ends.
// Those timers are deadlines on one queue shared by every lane of a sink (deadlines.ts): bodies
// are due in the order they opened, so one timer serves them all.
//
// Each body keeps free bytes in front of its records (up to `headroom`, a quarter of a small
// body), so the frames that must open it (L10 notices, known only when it closes) go in without a
// copy; notices longer than that are copied in front of the records when the batch forms
// (batch.ts), which happens only when something was dropped. Its capacity follows the serve's
// load: a quiet serve's body starts small (MIN_RECORD_BYTES: a serve that sends one record a
// minute, times 10,000 serves, holds 10,000 open bodies), a body that fills grows by doubling
// (one copy), and the next body starts at the size the last one needed. A busy serve thus writes
// into full-size bodies from the pool (BodyPool), and a quiet one never holds a megabyte open.
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from '../rx';
import { Deadlines, type Expiring } from './deadlines';

/** Where bodies come from and go back to when the filler drops one unused (a pool, or the heap). */
export interface BodySupply {
  /** A buffer of at least `bytes` bytes (records go up to `bytes` only, until the body grows). */
  readonly take: (bytes: number) => Buffer;
  /** A buffer from take() that nothing references any more. */
  readonly give: (buffer: Buffer) => void;
}

/** The limits of every body of a sink: one object, shared by its lanes. */
export interface FillLimits {
  readonly maxFrames: number; // close as soon as a body holds this many (a heavier item travels alone)
  readonly maxBytes: number; // record bytes a body may hold (an item bigger than this travels alone)
  readonly headroom: number; // free bytes kept in front of the records (a small body keeps a quarter of its capacity at most)
  readonly bodies: BodySupply;
}

/** How one lane's chunks are written, and where its closed bodies go (a Lane is one). */
export interface BodyWriter<C> {
  /** Items in `chunk`. */
  count(chunk: C): number;
  /**
   * Writes item `index` of `chunk` into `target` from `at`, never past `end`: returns the bytes
   * written, minus the bytes needed when it does not fit (nothing committed), or 0 to skip it.
   */
  write(chunk: C, target: Buffer, at: number, end: number, index: number): number;
  frames(): number; // frames of the item last written
  /** Called once per written item: false drops it (the caller counts it), true keeps it. */
  accept(chunk: C, bytes: number, frames: number): boolean;
  /** True when `next` may not share a body with `last` (e.g. the serve's credentials changed). */
  startsNewBody(last: C, next: C): boolean;
  /** A body closed. */
  filled(body: FilledBody<C>): void;
}

/** A closed body: records' frames at [start, end) of `buffer`, free room before them. */
export interface FilledBody<C> {
  readonly buffer: Buffer;
  readonly start: number; // where the records begin: the room in front of them
  readonly end: number;
  readonly frames: number;
  readonly last: C; // the chunk of the last item written (the serve a batch goes out as)
}

/**
 * Record bytes a new body starts with when the serve has been quiet: one or two records. A busy
 * serve's body doubles from here to the size it needs, and the next one starts at that size.
 */
export const MIN_RECORD_BYTES = 1024;

/** Writes the chunks of one lane into bodies; `flushDeadlines` (flushIntervalMs) is shared by the lanes of a sink. */
export class BodyFiller<C> implements Expiring {
  readonly #limits: FillLimits;
  readonly #writer: BodyWriter<C>;
  readonly #deadlines: Deadlines;
  #buffer: Buffer | undefined; // the open body (records from `start`)
  #start = 0;
  #limit = 0; // where its records must end: start + the capacity asked for
  #end = 0;
  #frames = 0;
  #last: C | undefined;
  #nextCapacity: number;
  #ticket = 0; // the open body's flush deadline; bumped when it closes

  constructor(limits: FillLimits, writer: BodyWriter<C>, flushDeadlines: Deadlines) {
    this.#limits = limits;
    this.#writer = writer;
    this.#deadlines = flushDeadlines;
    this.#nextCapacity = Math.min(MIN_RECORD_BYTES, limits.maxBytes);
  }

  /** Writes every item of `chunk`, closing bodies as they fill. Throws when the writer breaks its contract. */
  push(chunk: C): void {
    const writer = this.#writer;
    const last = this.#last;
    if (last !== undefined && writer.startsNewBody(last, chunk)) this.flush();
    const count = writer.count(chunk);
    for (let i = 0; i < count; i++) this.#writeItem(chunk, i);
  }

  /** Closes the open body now, if it holds anything. */
  flush(): void {
    const buffer = this.#buffer;
    const last = this.#last;
    if (buffer === undefined || last === undefined) return;
    const { maxBytes } = this.#limits;
    const filled: FilledBody<C> = { buffer, start: this.#start, end: this.#end, frames: this.#frames, last };
    this.#nextCapacity = this.#capacityFor(Math.min(this.#end - this.#start, maxBytes)); // a lone giant does not set the size
    this.#buffer = undefined;
    this.#frames = 0;
    this.#last = undefined;
    this.#ticket++;
    this.#writer.filled(filled);
  }

  /** The input ended abruptly: the open body is dropped. */
  drop(): void {
    this.#buffer = undefined;
    this.#last = undefined;
    this.#frames = 0;
    this.#ticket++;
  }

  expire(ticket: number): void {
    if (ticket === this.#ticket) this.flush();
  }

  /** Record capacity to ask for: at least `bytes`, a power of two from MIN_RECORD_BYTES, maxBytes when that is less. */
  #capacityFor(bytes: number): number {
    const { maxBytes } = this.#limits;
    if (bytes > maxBytes) return bytes; // travels alone
    let c = MIN_RECORD_BYTES;
    while (c < bytes) c *= 2;
    return Math.min(c, maxBytes);
  }

  /** Room in front of a body's records: the headroom, or a quarter of a small body. */
  #roomFor(capacity: number): number {
    return Math.min(this.#limits.headroom, capacity >> 2);
  }

  #open(recordBytes: number): Buffer {
    const capacity = this.#capacityFor(recordBytes);
    const start = this.#roomFor(capacity);
    this.#start = start;
    this.#end = start;
    this.#limit = start + capacity;
    const b = this.#limits.bodies.take(this.#limit);
    this.#buffer = b;
    return b;
  }

  /** Room for `needed` more bytes: a bigger buffer with the records so far copied over. */
  #grow(b: Buffer, needed: number): Buffer {
    const { maxBytes, bodies } = this.#limits;
    const used = this.#end - this.#start;
    const capacity = this.#capacityFor(Math.min(maxBytes, Math.max(used + needed, 2 * (this.#limit - this.#start))));
    const start = this.#roomFor(capacity);
    if (start === this.#start && b.length >= start + capacity) {
      this.#limit = start + capacity; // the supply gave more than asked (a pooled buffer): room enough
      return b;
    }
    const bigger = bodies.take(start + capacity);
    b.copy(bigger, start, this.#start, this.#end);
    bodies.give(b);
    this.#buffer = bigger;
    this.#start = start;
    this.#end = start + used;
    this.#limit = start + capacity;
    return bigger;
  }

  #writeItem(chunk: C, index: number): void {
    const writer = this.#writer;
    const { maxFrames, maxBytes } = this.#limits;
    let b = this.#buffer ?? this.#open(this.#nextCapacity);
    let n = writer.write(chunk, b, this.#end, this.#limit, index);
    if (n === 0) return;
    if (n < 0) {
      const needed = -n;
      // Records already here and the newcomer would pass maxBytes together: it opens the next body.
      if (this.#last !== undefined && this.#end - this.#start + needed > maxBytes) {
        this.flush();
        b = this.#open(Math.max(this.#nextCapacity, needed));
      } else if (this.#last === undefined) {
        this.#limits.bodies.give(b); // empty and too small: trade it for one that fits
        b = this.#open(Math.max(this.#nextCapacity, needed));
      } else {
        b = this.#grow(b, needed);
      }
      n = writer.write(chunk, b, this.#end, this.#limit, index);
      if (n <= 0) throw new Error(`fillBodies: the writer needed ${needed} bytes, then refused ${this.#limit - this.#end}`);
    }
    const itemFrames = writer.frames();
    if (!writer.accept(chunk, n, itemFrames)) return;
    if (this.#last !== undefined && this.#frames + itemFrames > maxFrames) {
      // Past the frame cap with what is here: the item moves to the next body.
      const bytes = Buffer.from(b.subarray(this.#end, this.#end + n));
      this.flush();
      b = this.#open(Math.max(this.#nextCapacity, n));
      bytes.copy(b, this.#end);
    }
    if (this.#last === undefined) this.#deadlines.add(this, this.#ticket);
    this.#end += n;
    this.#frames += itemFrames;
    this.#last = chunk;
    if (this.#frames >= maxFrames || this.#end - this.#start >= maxBytes) this.flush();
  }
}

/** fillBodies' options: the limits, and the writer's parts as functions; `count` 1 when absent (an item per emission). */
export interface FillOptions<C> extends FillLimits {
  readonly flushIntervalMs: number; // longest the first record of a body waits
  readonly count?: (chunk: C) => number;
  readonly write: (chunk: C, target: Buffer, at: number, end: number, index: number) => number;
  readonly framesOf: () => number; // frames of the item last written
  readonly accept: (chunk: C, bytes: number, frames: number) => boolean;
  readonly startsNewBody?: (last: C, next: C) => boolean;
  readonly scheduler?: SchedulerLike; // asyncScheduler by default; TestScheduler in marbles
}

/**
 * A BodyFiller as an operator, with deadlines of its own: each emission is a chunk, each closed
 * body goes out as it closes, and completion closes the last one.
 */
export function fillBodies<C>(options: FillOptions<C>): OperatorFunction<C, FilledBody<C>> {
  const { count, write, framesOf, accept, startsNewBody } = options;
  return (source) =>
    new Observable<FilledBody<C>>((subscriber) => {
      const deadlines = new Deadlines(options.flushIntervalMs, options.scheduler ?? asyncScheduler);
      const filler = new BodyFiller<C>(
        options,
        {
          count: count ?? (() => 1),
          write,
          frames: framesOf,
          accept,
          startsNewBody: (last, next) => startsNewBody?.(last, next) === true,
          filled: (body) => subscriber.next(body),
        },
        deadlines,
      );
      const subscription = source.subscribe({
        next: (chunk) => {
          try {
            filler.push(chunk);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => {
          deadlines.clear();
          subscriber.error(err);
        },
        complete: () => {
          filler.flush();
          deadlines.clear();
          subscriber.complete();
        },
      });
      return () => {
        deadlines.clear();
        subscription.unsubscribe();
      };
    });
}
