// One serve's spool on disk: numbered segment files of records (format.ts) in the serve's
// directory (layout.ts), appended at the end, read back oldest first, a record marked delivered
// in place once logplex accepted it, a segment unlinked once all of it is.
//
// Each serve's operations run one after another on a promise chain, so the sink never waits on
// the disk on a record's path: a batch is handed over and the outcome comes back later. Memory
// does not grow with the spool: a few numbers per segment, one batch read at a time.
//
// A spool found at start-up is recovered in the background (the store runs one recovery at a
// time): its segments are read and checked while the collector already listens. Meanwhile appends
// go to new segments after the found ones, next() and ack() wait for the recovery, and `pending`
// counts one more batch than known so that live batches queue behind the found ones and the
// sink's drainer starts.
//
// What is durable when: a record is in the page cache when its append resolves (a kill -9 of the
// process loses nothing appended), and on disk after the next sync tick (syncIntervalMs), which
// fdatasyncs every segment written since the last and the serve's directory when a file was
// created. Delivered marks are not synced on their own: after power loss a batch delivered in
// the last seconds may be posted again, never lost.
import { open, readdir, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { defer, from, type Observable } from '../rx';
import { errnoOf } from './errors';
import { checkHeader, decodePayload, encodeRecord, HEADER_BYTES, STATE_AT, STATE_DELIVERED, startsLikeHeader, type SpooledBatch } from './format';
import { checkServeDir, createSegment, makeServeDir, openSegment, segmentName, segmentSeq, UntrustedEntry } from './layout';
import type { SpoolOptions } from './options';

/** What became of a batch handed to the spool. Anything but `spooled` leaves it with the caller. */
export type AppendOutcome = 'spooled' | 'full' | 'floor' | 'off';

/** A batch read back, to post and then ack. */
export interface SpoolEntry {
  readonly batch: SpooledBatch;
}

/** A serve's spool as the stats show it. */
export interface SpoolCounts {
  readonly bytes: number; // segment files on disk (delivered records linger until their segment goes)
  readonly batches: number; // pending: spooled (or being spooled) and not yet delivered
  readonly oldestMs: number | undefined; // createdAtMs of the oldest pending batch
  readonly spooled?: number; // batches written since start (totals only)
  readonly drained?: number; // batches read back and taken off since start, posted or given up (totals only)
}

/**
 * One serve's spool, as the sink uses it. Observables rather than promises so that the sink's
 * timing can be proven on a TestScheduler with an in-memory stand-in (marbles/spool).
 */
export interface ServeSpool {
  readonly socketPath: string;
  append(batch: SpooledBatch): Observable<AppendOutcome>;
  /** The oldest pending batch not yet handed out, or undefined when there is none. */
  next(): Observable<SpoolEntry | undefined>;
  /** The entry's batch is done with (delivered, or given up): never hand it out again, here or after a restart. */
  ack(entry: SpoolEntry): Observable<void>;
  /** Pending batches, appends still being written included: while above 0, live batches go behind them. */
  readonly pending: number;
  counts(): SpoolCounts;
}

/** What a serve's spool asks of the store that holds all of them (shared cap, floor, error pause, events). */
export interface SpoolAccount {
  readonly options: SpoolOptions;
  /** Room for a record of `bytes`: undefined when granted (and reserved), else the refusal. */
  admit(bytes: number): AppendOutcome | undefined;
  /** Bytes that left the spool (a segment unlinked) or never reached it (a failed append). */
  release(bytes: number): void;
  /** Bytes found on disk by a recovery. */
  found(bytes: number): void;
  /** A disk operation failed: the spool pauses. Returns undefined for the caller to pass on. */
  failed(op: string, err: unknown): undefined;
  damaged(socketPath: string, segment: string, offset: number, batches: number): void;
  skipped(entry: UntrustedEntry): void;
  /** A batch went into the spool (`spooled`) or was taken off it (`drained`): the metrics' counters. */
  moved(way: 'spooled' | 'drained'): void;
}

/** What a recovery found of one serve's spool. */
export interface Recovery {
  readonly serve: SpooledBatch['serve'] | undefined; // from its oldest pending batch
  readonly batches: number; // pending batches found
  readonly bytes: number; // in the segments kept
  readonly frames: number;
  readonly skippedBytes: number;
  readonly damagedSegments: number;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  size: number; // bytes written (and trusted)
  pending: number; // records not yet delivered
  handle: FileHandle | undefined; // open while appended to or read
  headCreatedAtMs: number | undefined; // createdAtMs of its oldest pending record, when known
}

class DiskEntry implements SpoolEntry {
  constructor(
    readonly batch: SpooledBatch,
    readonly segment: Segment,
    readonly offset: number,
  ) {}
}

/** A read of one record: what a segment holds at an offset. */
type RecordRead =
  | { readonly kind: 'record'; readonly bytes: number; readonly delivered: boolean; readonly batch: SpooledBatch | undefined }
  | { readonly kind: 'torn' | 'corrupt' };

/** The record at `offset` of a file of `size` bytes; the payload is read (and checked) only when `wantBatch`. */
async function readRecord(handle: FileHandle, offset: number, size: number, wantBatch: (delivered: boolean) => boolean): Promise<RecordRead> {
  const header = Buffer.alloc(HEADER_BYTES);
  const available = Math.min(HEADER_BYTES, size - offset);
  await readFully(handle, header, available, offset);
  if (available < HEADER_BYTES) return { kind: startsLikeHeader(header.subarray(0, available), 0) ? 'torn' : 'corrupt' };
  const check = checkHeader(header);
  if (!check.ok) return { kind: 'corrupt' };
  const bytes = HEADER_BYTES + check.payloadLength;
  if (offset + bytes > size) return { kind: 'torn' };
  if (!wantBatch(check.delivered)) return { kind: 'record', bytes, delivered: check.delivered, batch: undefined };
  const payload = Buffer.allocUnsafe(check.payloadLength);
  await readFully(handle, payload, payload.length, offset + HEADER_BYTES);
  const batch = decodePayload(check.payloadLength, check.crc, payload);
  return batch === undefined ? { kind: 'corrupt' } : { kind: 'record', bytes, delivered: check.delivered, batch };
}

async function readFully(handle: FileHandle, into: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(into, done, length - done, position + done);
    if (bytesRead === 0) throw Object.assign(new Error('spool: segment shorter than expected'), { code: 'ESHORT' });
    done += bytesRead;
  }
}

export class DiskServeSpool implements ServeSpool {
  readonly #segments: Segment[] = []; // oldest first
  #readAt = { index: 0, offset: 0 }; // next record to hand out
  #pending = 0;
  #appending = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #dirty = new Set<Segment>();
  #dirCreated = false; // a segment was created since the last sync: sync the directory too
  #inFlight: DiskEntry | undefined;
  #prepared: Promise<void> | undefined; // the directory checked and listed (a found spool), once
  #foundSeqs: readonly number[] = []; // segments on disk before this run wrote any, oldest first
  #recovering: boolean;
  #recovered: Promise<void>;
  #endRecovery: () => void = () => undefined;
  #untrusted = false; // its directory did not check out: it takes no batch
  #closing = false;

  constructor(
    readonly socketPath: string,
    readonly dir: string,
    private readonly account: SpoolAccount,
    found: boolean, // its directory was there at start-up: recover() reads it
  ) {
    this.#recovering = found;
    this.#recovered = found ? new Promise<void>((resolve) => (this.#endRecovery = resolve)) : Promise.resolve();
    if (!found) this.#prepared = Promise.resolve();
  }

  get pending(): number {
    return this.#pending + this.#appending + (this.#recovering ? 1 : 0);
  }

  /** Whether its recovery (of a spool found at start-up) has yet to finish. */
  get recovering(): boolean {
    return this.#recovering;
  }

  counts(): SpoolCounts {
    let bytes = 0;
    for (const s of this.#segments) bytes += s.size;
    const head = this.#inFlight?.batch.createdAtMs ?? this.#segments.find((s) => s.pending > 0)?.headCreatedAtMs;
    return { bytes, batches: this.pending, oldestMs: this.pending > 0 ? head : undefined };
  }

  append(batch: SpooledBatch): Observable<AppendOutcome> {
    return defer(() => from(this.#append(batch)));
  }

  next(): Observable<SpoolEntry | undefined> {
    return defer(() => from(this.#afterRecovery(() => this.#next()).catch((err: unknown) => this.account.failed('read', err))));
  }

  ack(entry: SpoolEntry): Observable<void> {
    return defer(() => from(this.#afterRecovery(() => this.#ack(entry)).catch((err: unknown) => this.account.failed('ack', err))));
  }

  async #afterRecovery<T>(op: () => Promise<T>): Promise<T> {
    await this.#recovered;
    return this.#run(op);
  }

  /** Runs `op` after every operation queued before it; a failed one does not stop the next. */
  #run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(op, op);
    this.#chain = result.catch(() => undefined);
    return result;
  }

  async #append(batch: SpooledBatch): Promise<AppendOutcome> {
    await this.#prepare();
    if (this.#untrusted) return 'off';
    let record: Buffer;
    try {
      record = encodeRecord(batch);
    } catch (err) {
      return this.account.failed('encode', err) ?? 'off';
    }
    const refused = this.account.admit(record.length);
    if (refused !== undefined) return refused;
    try {
      await this.#write(record, batch.createdAtMs);
      return 'spooled';
    } catch (err) {
      this.account.release(record.length);
      this.account.failed('append', err);
      return 'off';
    }
  }

  /** Resolves once the record is in the file (room already reserved). */
  async #write(record: Buffer, createdAtMs: number): Promise<void> {
    this.#appending += 1;
    try {
      await this.#run(async () => {
        const segment = await this.#segmentFor(record.length);
        const handle = await this.#open(segment);
        let done = 0;
        while (done < record.length) {
          const { bytesWritten } = await handle.write(record, done, record.length - done, segment.size + done);
          done += bytesWritten;
        }
        // Only now is the record trusted: a failed write leaves size where it was, and the next
        // append writes over whatever part of it reached the file.
        segment.size += record.length;
        segment.pending += 1;
        segment.headCreatedAtMs ??= createdAtMs;
        this.#pending += 1;
        this.account.moved('spooled');
        this.#dirty.add(segment);
      });
    } finally {
      this.#appending -= 1;
    }
  }

  /**
   * A found spool's directory, checked and listed once, before this run writes to it or reads it:
   * appends made during the recovery go after (and are never taken for) what was found.
   */
  #prepare(): Promise<void> {
    this.#prepared ??= (async () => {
      try {
        const problem = await checkServeDir(this.dir);
        if (problem !== undefined) throw new UntrustedEntry(this.dir, problem);
        const seqs: number[] = [];
        for (const name of await readdir(this.dir)) {
          const seq = segmentSeq(name);
          if (seq === undefined) this.account.skipped(new UntrustedEntry(join(this.dir, name), 'unknown_name'));
          else seqs.push(seq);
        }
        this.#foundSeqs = seqs.sort((a, b) => a - b);
      } catch (err) {
        this.#untrusted = true;
        this.account.skipped(err instanceof UntrustedEntry ? err : new UntrustedEntry(this.dir, 'unreadable', errnoOf(err)));
      }
    })();
    return this.#prepared;
  }

  async #segmentFor(bytes: number): Promise<Segment> {
    const last = this.#segments[this.#segments.length - 1];
    if (last !== undefined && (last.size === 0 || last.size + bytes <= this.account.options.segmentBytes)) return last;
    if (last !== undefined) await this.#closeUnlessRead(last);
    await makeServeDir(this.dir);
    const seq = Math.max(last?.seq ?? 0, ...this.#foundSeqs) + 1;
    const path = join(this.dir, segmentName(seq));
    const handle = await createSegment(path);
    const segment: Segment = { seq, path, size: 0, pending: 0, handle, headCreatedAtMs: undefined };
    this.#segments.push(segment);
    this.#dirCreated = true;
    return segment;
  }

  async #open(segment: Segment): Promise<FileHandle> {
    segment.handle ??= await openSegment(segment.path);
    return segment.handle;
  }

  /** A segment no longer appended to keeps its handle only while records are read from it. */
  async #closeUnlessRead(segment: Segment): Promise<void> {
    const reading = this.#segments[this.#readAt.index] === segment;
    if (reading || segment.handle === undefined) return;
    if (this.#dirty.has(segment)) await segment.handle.datasync(); // its last appends, before the handle goes
    this.#dirty.delete(segment);
    await segment.handle.close();
    segment.handle = undefined;
  }

  async #next(): Promise<SpoolEntry | undefined> {
    for (;;) {
      const segment = this.#segments[this.#readAt.index];
      if (segment === undefined) return undefined;
      const isLast = this.#readAt.index === this.#segments.length - 1;
      if (this.#readAt.offset >= segment.size) {
        if (isLast) return undefined; // caught up with the appends
        await this.#leave(segment);
        continue;
      }
      const handle = await this.#open(segment);
      const offset = this.#readAt.offset;
      const read = await readRecord(handle, offset, segment.size, (delivered) => !delivered);
      if (read.kind !== 'record') {
        // Damaged after it was checked (the disk, or someone else): give up the rest of the segment.
        const handedOut = this.#inFlight?.segment === segment ? 1 : 0; // still to be acked
        const lost = segment.pending - handedOut;
        segment.pending = handedOut;
        this.#pending -= lost;
        this.account.damaged(this.socketPath, segmentName(segment.seq), offset, lost);
        this.#readAt.offset = segment.size;
        await this.#dropIfDone(segment);
        continue;
      }
      this.#readAt.offset += read.bytes;
      if (read.batch === undefined) continue; // delivered before a restart
      segment.headCreatedAtMs = read.batch.createdAtMs;
      this.#inFlight = new DiskEntry(read.batch, segment, offset);
      return this.#inFlight;
    }
  }

  /** The read position moves past `segment` (to the next one), which keeps its handle only while appended to. */
  async #leave(segment: Segment): Promise<void> {
    this.#readAt = { index: this.#readAt.index + 1, offset: 0 };
    await this.#dropIfDone(segment);
    const isLast = this.#segments[this.#segments.length - 1] === segment;
    if (!isLast && segment.handle !== undefined && this.#segments.includes(segment)) {
      await segment.handle.close();
      segment.handle = undefined;
    }
  }

  async #ack(entry: SpoolEntry): Promise<void> {
    if (!(entry instanceof DiskEntry)) throw new TypeError('spool: ack of an entry this spool did not hand out');
    const { segment, offset } = entry;
    if (this.#inFlight === entry) this.#inFlight = undefined;
    if (!this.#segments.includes(segment)) return; // its segment was given up as damaged
    const handle = await this.#open(segment);
    await handle.write(Buffer.of(STATE_DELIVERED), 0, 1, offset + STATE_AT);
    segment.pending -= 1;
    segment.headCreatedAtMs = undefined; // the next record read sets it
    this.#pending -= 1;
    this.account.moved('drained');
    await this.#dropIfDone(segment);
  }

  /**
   * Unlink a segment none of whose records is pending, once nothing more will be appended to it:
   * a full one, or the last one when the whole spool is delivered (so it returns to empty).
   */
  async #dropIfDone(segment: Segment): Promise<void> {
    if (segment.pending > 0) return;
    const index = this.#segments.indexOf(segment);
    if (index < 0) return;
    const isLast = index === this.#segments.length - 1;
    const readPast = this.#readAt.index > index || (this.#readAt.index === index && this.#readAt.offset >= segment.size);
    if (!readPast) return;
    if (isLast && this.#appending > 0) return; // a write is under way into it
    await segment.handle?.close();
    segment.handle = undefined;
    this.#dirty.delete(segment);
    await unlink(segment.path);
    this.#segments.splice(index, 1);
    if (this.#readAt.index > index) this.#readAt.index -= 1;
    else if (this.#readAt.index === index) this.#readAt = { index, offset: 0 };
    this.account.release(segment.size);
  }

  /** fdatasync what was written since the last tick (and the directory, if a file appeared). */
  sync(): Promise<void> {
    if (this.#dirty.size === 0 && !this.#dirCreated) return Promise.resolve();
    return this.#run(async () => {
      for (const segment of this.#dirty) await segment.handle?.datasync();
      this.#dirty.clear();
      if (this.#dirCreated) {
        this.#dirCreated = false;
        const dir = await open(this.dir, 'r');
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
      }
    }).catch((err: unknown) => {
      this.account.failed('sync', err);
    });
  }

  /** Stops a recovery under way (what it did not read stays on disk as it was) and closes every file. */
  close(): Promise<void> {
    this.#closing = true;
    return this.#run(async () => {
      for (const segment of this.#dirty) await segment.handle?.datasync();
      this.#dirty.clear();
      for (const segment of this.#segments) {
        await segment.handle?.close();
        segment.handle = undefined;
      }
    });
  }

  /**
   * Start-up, in the background: check every segment the directory held, cut damaged tails,
   * count what is pending. An entry that does not check out is skipped (and said), never read or
   * touched. Resolves undefined when the directory itself is not ours to use.
   */
  async recover(): Promise<Recovery | undefined> {
    try {
      await this.#prepare();
      return this.#untrusted ? undefined : await this.#scan(this.#foundSeqs);
    } finally {
      this.#recovering = false;
      this.#endRecovery();
    }
  }

  async #scan(seqs: readonly number[]): Promise<Recovery> {
    let serve: SpooledBatch['serve'] | undefined;
    let frames = 0;
    let skippedBytes = 0;
    let damagedSegments = 0;
    const found: Segment[] = [];
    for (const seq of seqs) {
      if (this.#closing) break; // the rest stays on disk, untouched, for the next start
      const path = join(this.dir, segmentName(seq));
      let handle: FileHandle;
      try {
        handle = await openSegment(path);
      } catch (err) {
        if (!(err instanceof UntrustedEntry)) throw err;
        this.account.skipped(err);
        continue;
      }
      let keep = false;
      try {
        const { size } = await handle.stat();
        const segment: Segment = { seq, path, size: 0, pending: 0, handle: undefined, headCreatedAtMs: undefined };
        let pendingFrames = 0;
        while (segment.size < size && !this.#closing) {
          const read = await readRecord(handle, segment.size, size, () => true);
          if (read.kind !== 'record') break;
          if (!read.delivered && read.batch !== undefined) {
            segment.pending += 1;
            segment.headCreatedAtMs ??= read.batch.createdAtMs;
            serve ??= read.batch.serve;
            pendingFrames += read.batch.logFrames;
          }
          segment.size += read.bytes;
        }
        if (this.#closing) continue; // not read to its end: neither cut nor counted
        frames += pendingFrames;
        if (segment.size < size) {
          // A torn tail (the process died mid-append) or damage: never trusted, cut off so that
          // appends after it are readable. The descriptor is the file that was checked.
          skippedBytes += size - segment.size;
          damagedSegments += 1;
          await handle.truncate(segment.size);
        }
        if (segment.pending > 0) {
          keep = true;
          found.push(segment);
        }
      } catch (err) {
        this.account.skipped(new UntrustedEntry(path, 'unreadable', errnoOf(err)));
        continue;
      } finally {
        await handle.close(); // opened again when read: only segments in use hold a descriptor
      }
      if (!keep) await unlink(path); // all delivered, or nothing intact
    }
    let kept = { batches: 0, bytes: 0 };
    await this.#run(async () => {
      const pendingBefore = this.#pending;
      // Before whatever was appended meanwhile (in higher-numbered segments); nothing was read yet.
      this.#segments.unshift(...found);
      let bytes = 0;
      for (const segment of found) {
        this.#pending += segment.pending;
        bytes += segment.size;
      }
      this.account.found(bytes);
      kept = { batches: this.#pending - pendingBefore, bytes };
      if (this.#segments.length === 0 && this.#appending === 0 && !this.#closing) {
        // Nothing left: the directory goes too, if nothing else is in it (what is, is not ours to remove).
        await rmdir(this.dir).catch(() => undefined);
      }
    });
    return { serve, frames, skippedBytes, damagedSegments, ...kept };
  }
}
