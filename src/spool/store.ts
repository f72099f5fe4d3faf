// The spool on disk: one directory per serve (named by a hash of its socket path), holding
// numbered segment files of records (format.ts), appended at the end, read back oldest first, a
// record marked delivered in place once logplex accepted it, a segment unlinked once all of it is.
//
//   DIR/                     0700
//     3f9a.../               0700, one per serve
//       0000000000000001.seg 0600, full (≥ segmentBytes) or the one being appended to
//
// All file I/O is async (fs.promises, one FileHandle per open segment) and each serve's
// operations run one after another on a promise chain, so the sink never waits on the disk on a
// record's path: a batch is handed over and the outcome comes back later. Memory does not grow
// with the spool: the store holds per segment a few numbers, and reads one batch at a time.
//
// What is durable when: a record is in the page cache when its append resolves (a kill -9 of the
// process loses nothing appended), and on disk after the next sync tick (syncIntervalMs), which
// fdatasyncs every segment written since the last and the serve's directory when a file was
// created. Delivered marks are not synced on their own: after power loss a batch delivered in
// the last seconds may be posted again, never lost.
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readdir, rm, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { defer, from, type Observable } from '../rx';
import type { EventSink } from '../events';
import { errnoCode } from '../errors';
import { checkHeader, decodePayload, encodeRecord, HEADER_BYTES, STATE_AT, STATE_DELIVERED, startsLikeHeader, type SpooledBatch } from './format';
import type { SpoolEvent } from './events';
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

const SEGMENT_SUFFIX = '.seg';
const segmentName = (seq: number): string => `${String(seq).padStart(16, '0')}${SEGMENT_SUFFIX}`;
const serveDirName = (socketPath: string): string => createHash('sha256').update(socketPath).digest('hex').slice(0, 32);

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

/** What start-up found of one serve's spool. */
interface Recovery {
  readonly serve: SpooledBatch['serve'] | undefined; // from its oldest pending batch
  readonly frames: number;
  readonly skippedBytes: number;
  readonly damagedSegments: number;
}

class DiskServeSpool implements ServeSpool {
  readonly #segments: Segment[] = []; // oldest first
  #readAt = { index: 0, offset: 0 }; // next record to hand out
  #pending = 0;
  #appending = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #dirty = new Set<Segment>();
  #dirCreated = false; // a segment was created since the last sync: sync the directory too
  #inFlight: DiskEntry | undefined;
  #socketPath: string;

  constructor(
    socketPath: string, // '' while recovering: the batches found say whose it is
    readonly dir: string,
    private readonly store: SpoolStore,
  ) {
    this.#socketPath = socketPath;
  }

  get socketPath(): string {
    return this.#socketPath;
  }

  get pending(): number {
    return this.#pending + this.#appending;
  }

  counts(): SpoolCounts {
    let bytes = 0;
    for (const s of this.#segments) bytes += s.size;
    const head = this.#inFlight?.batch.createdAtMs ?? this.#segments.find((s) => s.pending > 0)?.headCreatedAtMs;
    return { bytes, batches: this.pending, oldestMs: this.pending > 0 ? head : undefined };
  }

  append(batch: SpooledBatch): Observable<AppendOutcome> {
    return defer(() => from(this.store.append(this, batch)));
  }

  next(): Observable<SpoolEntry | undefined> {
    return defer(() => from(this.#run(() => this.#next()).catch((err: unknown) => this.store.failed('read', err))));
  }

  ack(entry: SpoolEntry): Observable<void> {
    return defer(() => from(this.#run(() => this.#ack(entry)).catch((err: unknown) => this.store.failed('ack', err))));
  }

  /** Runs `op` after every operation queued before it; a failed one does not stop the next. */
  #run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(op, op);
    this.#chain = result.catch(() => undefined);
    return result;
  }

  /** Called by the store with the room already reserved; resolves once the record is in the file. */
  async write(record: Buffer, createdAtMs: number): Promise<void> {
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
        this.#dirty.add(segment);
      });
    } finally {
      this.#appending -= 1;
    }
  }

  async #segmentFor(bytes: number): Promise<Segment> {
    const last = this.#segments[this.#segments.length - 1];
    if (last !== undefined && (last.size === 0 || last.size + bytes <= this.store.options.segmentBytes)) return last;
    if (last !== undefined) await this.#closeUnlessRead(last);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const seq = (last?.seq ?? 0) + 1;
    const path = join(this.dir, segmentName(seq));
    const handle = await open(path, 'wx+', 0o600);
    const segment: Segment = { seq, path, size: 0, pending: 0, handle, headCreatedAtMs: undefined };
    this.#segments.push(segment);
    this.#dirCreated = true;
    return segment;
  }

  async #open(segment: Segment): Promise<FileHandle> {
    segment.handle ??= await open(segment.path, 'r+');
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
        // Damaged after start-up checked it (the disk, or someone else): give up the rest of the segment.
        const handedOut = this.#inFlight?.segment === segment ? 1 : 0; // still to be acked
        const lost = segment.pending - handedOut;
        segment.pending = handedOut;
        this.#pending -= lost;
        this.store.damaged(this, segment, offset, lost);
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
    this.store.released(segment.size);
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
      this.store.failed('sync', err);
    });
  }

  close(): Promise<void> {
    return this.#run(async () => {
      for (const segment of this.#dirty) await segment.handle?.datasync();
      this.#dirty.clear();
      for (const segment of this.#segments) {
        await segment.handle?.close();
        segment.handle = undefined;
      }
    });
  }

  /** Start-up: check every segment of the directory, cut damaged tails, count what is pending. */
  async recover(names: readonly string[]): Promise<Recovery> {
    const found = await this.#scan(names);
    if (found.serve !== undefined) this.#socketPath = found.serve.socketPath;
    return found;
  }

  async #scan(names: readonly string[]): Promise<Recovery> {
    let serve: SpooledBatch['serve'] | undefined;
    let frames = 0;
    let skippedBytes = 0;
    let damagedSegments = 0;
    const seqs = names
      .filter((n) => n.endsWith(SEGMENT_SUFFIX))
      .map((n) => Number.parseInt(n.slice(0, -SEGMENT_SUFFIX.length), 10))
      .filter((n) => Number.isSafeInteger(n) && n > 0)
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      const path = join(this.dir, segmentName(seq));
      const handle = await open(path, 'r+');
      let keep = false;
      try {
        const { size } = await handle.stat();
        const segment: Segment = { seq, path, size: 0, pending: 0, handle: undefined, headCreatedAtMs: undefined };
        while (segment.size < size) {
          const read = await readRecord(handle, segment.size, size, () => true);
          if (read.kind !== 'record') break;
          if (!read.delivered && read.batch !== undefined) {
            segment.pending += 1;
            segment.headCreatedAtMs ??= read.batch.createdAtMs;
            serve ??= read.batch.serve;
            frames += read.batch.logFrames;
          }
          segment.size += read.bytes;
        }
        if (segment.size < size) {
          // A torn tail (the process died mid-append) or damage: never trusted, cut off so that
          // appends after it are readable.
          skippedBytes += size - segment.size;
          damagedSegments += 1;
          await handle.truncate(segment.size);
        }
        if (segment.pending > 0) {
          keep = true;
          this.#segments.push(segment);
          this.#pending += segment.pending;
        }
      } finally {
        await handle.close(); // opened again when read: only segments in use hold a descriptor
      }
      if (!keep) await unlink(path); // all delivered, or nothing intact
    }
    return { serve, frames, skippedBytes, damagedSegments };
  }
}

/**
 * All serves' spools under one directory: the cap and the free-space floor are shared, and a
 * disk error turns the whole spool off for a while (batches stay in memory meanwhile).
 */
export class SpoolStore {
  readonly #serves = new Map<string, DiskServeSpool>(); // by socket path
  readonly #recovered: DiskServeSpool[] = [];
  #totalBytes = 0; // segment bytes on disk, plus room reserved by appends under way
  #offUntilMs = 0; // after a disk error: no appends before then
  #full: 'cap' | 'floor' | undefined; // the spool refused a batch for this, and said so once
  #free = { bytes: Number.POSITIVE_INFINITY, floor: 0, readAtMs: Number.NEGATIVE_INFINITY, appendedSince: 0, reading: false };
  #syncTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly options: SpoolOptions,
    private readonly emit: EventSink<SpoolEvent>,
    private readonly now: () => number,
  ) {}

  /** Opens (creating, 0700) the spool directory and checks what earlier runs left in it. */
  static async open(options: SpoolOptions, emit: EventSink<SpoolEvent>, now: () => number = Date.now): Promise<SpoolStore> {
    const store = new SpoolStore(options, emit, now);
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    await chmod(options.dir, 0o700); // it holds tokens: whatever mode it was made with
    for (const entry of await readdir(options.dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(options.dir, entry.name);
      const names = await readdir(dir);
      const spool = new DiskServeSpool('', dir, store);
      const found = await spool.recover(names);
      const bytes = spool.counts().bytes;
      if (found.serve === undefined || spool.pending === 0) {
        await rm(dir, { recursive: true, force: true });
        if (found.skippedBytes > 0) store.#announceRecovery(undefined, '', found, 0, 0);
        continue;
      }
      store.#serves.set(spool.socketPath, spool);
      store.#recovered.push(spool);
      store.#totalBytes += bytes;
      store.#announceRecovery(found.serve.name, spool.socketPath, found, spool.pending, bytes);
    }
    await store.#readFreeSpace();
    store.#syncTimer = setInterval(() => store.#syncAll(), options.syncIntervalMs);
    store.#syncTimer.unref();
    return store;
  }

  #announceRecovery(name: string | undefined, socket: string, found: Recovery, batches: number, bytes: number): void {
    this.emit({
      kind: 'spool_recovered',
      level: found.skippedBytes > 0 ? 'warn' : 'info',
      serve: name,
      socket,
      batches,
      frames: found.frames,
      bytes,
      skipped_bytes: found.skippedBytes,
      damaged_segments: found.damagedSegments,
    });
  }

  /** Spools found at start-up with batches to deliver. */
  recovered(): readonly ServeSpool[] {
    return this.#recovered;
  }

  /** A serve's spool (made on first use; nothing touches the disk before its first append). */
  serve(socketPath: string): ServeSpool {
    let spool = this.#serves.get(socketPath);
    if (spool === undefined) {
      spool = new DiskServeSpool(socketPath, join(this.options.dir, serveDirName(socketPath)), this);
      this.#serves.set(socketPath, spool);
    }
    return spool;
  }

  /** Spools that exist (have been used or found), for stats. */
  spools(): readonly ServeSpool[] {
    return [...this.#serves.values()];
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** A serve's spool counts, without making a spool for it; undefined when it has none. */
  countsOf(socketPath: string): SpoolCounts | undefined {
    return this.#serves.get(socketPath)?.counts();
  }

  /** All serves' spools together; oldestMs is the oldest batch of any. */
  totals(): SpoolCounts {
    let batches = 0;
    let oldestMs: number | undefined;
    for (const spool of this.#serves.values()) {
      const c = spool.counts();
      batches += c.batches;
      if (c.oldestMs !== undefined && (oldestMs === undefined || c.oldestMs < oldestMs)) oldestMs = c.oldestMs;
    }
    return { bytes: this.#totalBytes, batches, oldestMs };
  }

  /** @internal DiskServeSpool.append: admission (error pause, cap, floor), then the write. */
  async append(spool: DiskServeSpool, batch: SpooledBatch): Promise<AppendOutcome> {
    const now = this.now();
    if (now < this.#offUntilMs) return 'off';
    const record = encodeRecord(batch);
    if (this.#totalBytes + record.length > this.options.capBytes) return this.#refuse('cap');
    this.#refreshFreeSpace(now);
    const free = this.#free.bytes - this.#free.appendedSince - record.length;
    if (free < this.#free.floor) return this.#refuse('floor');
    if (this.#full !== undefined || this.#offUntilMs !== 0) {
      this.emit({ kind: 'spool_resumed', level: 'info', reason: this.#full ?? 'error', bytes: this.#totalBytes });
      this.#full = undefined;
      this.#offUntilMs = 0;
    }
    this.#totalBytes += record.length;
    this.#free.appendedSince += record.length;
    try {
      await spool.write(record, batch.createdAtMs);
      return 'spooled';
    } catch (err) {
      this.#totalBytes -= record.length;
      this.failed('append', err);
      return 'off';
    }
  }

  #refuse(reason: 'cap' | 'floor'): AppendOutcome {
    if (this.#full !== reason) {
      this.#full = reason;
      this.emit({ kind: 'spool_full', level: 'warn', reason, bytes: this.#totalBytes });
    }
    return reason === 'cap' ? 'full' : 'floor';
  }

  #refreshFreeSpace(now: number): void {
    if (this.#free.reading || now - this.#free.readAtMs < this.options.statfsIntervalMs) return;
    void this.#readFreeSpace();
  }

  async #readFreeSpace(): Promise<void> {
    this.#free.reading = true;
    try {
      const fs = await statfs(this.options.dir);
      this.#free.bytes = fs.bavail * fs.bsize;
      this.#free.floor = Math.max(this.options.minFreeRatio * fs.blocks * fs.bsize, this.options.minFreeBytes);
      this.#free.appendedSince = 0;
      this.#free.readAtMs = this.now();
    } catch (err) {
      this.failed('statfs', err);
    } finally {
      this.#free.reading = false;
    }
  }

  /** @internal A disk operation failed: the spool is off for retryAfterErrorMs, said once. Returns undefined for the caller to pass on. */
  failed(op: string, err: unknown): undefined {
    const now = this.now();
    if (now >= this.#offUntilMs) {
      this.emit({ kind: 'spool_failed', level: 'error', op, code: errnoCode(err) ?? 'UNKNOWN', retry_in_ms: this.options.retryAfterErrorMs });
    }
    this.#offUntilMs = now + this.options.retryAfterErrorMs;
    return undefined;
  }

  /** @internal */
  damaged(spool: DiskServeSpool, segment: Segment, offset: number, batches: number): void {
    this.emit({ kind: 'spool_damaged', level: 'error', socket: spool.socketPath, segment: segmentName(segment.seq), offset, batches });
  }

  /** @internal A segment was unlinked. */
  released(bytes: number): void {
    this.#totalBytes -= bytes;
  }

  #syncAll(): void {
    for (const spool of this.#serves.values()) void spool.sync();
  }

  /** Syncs and closes every file; the spool stays on disk for the next start. */
  async close(): Promise<void> {
    clearInterval(this.#syncTimer);
    await Promise.all([...this.#serves.values()].map((s) => s.close().catch((err: unknown) => this.failed('sync', err))));
  }
}
