// All serves' spools under one directory (layout.ts): the cap and the free-space floor are shared,
// a disk error pauses the whole spool for a while (batches stay in memory meanwhile), and what
// earlier runs left is recovered in the background, one serve at a time, while the collector
// already listens.
//
// Opening checks and makes only the spool's own directory (each step with a deadline, a
// SpoolOpenError saying what to fix otherwise) and lists it; no segment is read before open()
// resolves. An entry that does not check out is skipped, counted and said (spool_entry_skipped),
// never touched, and never turns the spool off.
import { readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventSink } from '../events';
import type { SchedulerAction, SchedulerLike, Subscription } from '../rx';
import { unrefScheduler } from '../unrefScheduler';
import { errnoOf } from './errors';
import { MARKER_NAME, openRoot, serveDirName, socketPathOf, UntrustedEntry, withDeadline } from './layout';
import { DiskServeSpool, type AppendOutcome, type Recovery, type ServeSpool, type SpoolAccount, type SpoolCounts } from './serveSpool';
import type { SpoolEvent } from './events';
import type { SpoolOptions } from './options';

export type { AppendOutcome, ServeSpool, SpoolCounts, SpoolEntry } from './serveSpool';

/** How an earlier version named a serve's spool, directly in the spool directory. */
const LEGACY_SERVE_DIR = /^[0-9a-f]{32}$/;

/** The spool of all serves; see the file's head. */
export class SpoolStore {
  readonly #serves = new Map<string, DiskServeSpool>(); // by socket path
  readonly #found: DiskServeSpool[] = []; // spools earlier runs left, recovered in the background
  #recovery: Promise<void> = Promise.resolve();
  #skipped = 0;
  #totalBytes = 0; // segment bytes on disk, plus room reserved by appends under way
  #offUntilMs = 0; // after a disk error: no appends before then
  #full: 'cap' | 'floor' | undefined; // the spool refused a batch for this, and said so once
  #free = { bytes: Number.POSITIVE_INFINITY, floor: 0, readAtMs: Number.NEGATIVE_INFINITY, appendedSince: 0, reading: false };
  #syncTimer: Subscription | undefined;
  #closed = false;
  readonly #account: SpoolAccount;
  readonly #moved = { spooled: 0, drained: 0 }; // batches into and out of the spool since start

  private constructor(
    readonly options: SpoolOptions,
    readonly root: string, // the spool's own directory inside options.dir
    private readonly emit: EventSink<SpoolEvent>,
    private readonly scheduler: SchedulerLike, // the sync interval, deadlines, and "now" for the error pause
  ) {
    this.#account = {
      options,
      admit: (bytes) => this.#admit(bytes),
      release: (bytes) => {
        this.#totalBytes -= bytes;
      },
      found: (bytes) => {
        this.#totalBytes += bytes;
      },
      failed: (op, err) => this.#failed(op, err),
      damaged: (socket, segment, offset, batches) => this.emit({ kind: 'spool_damaged', level: 'error', socket, segment, offset, batches }),
      skipped: (entry) => this.#skip(entry),
      moved: (way) => {
        this.#moved[way] += 1;
      },
    };
  }

  /**
   * Opens the spool in options.dir: makes or checks its own directory there and lists it, each
   * step within openTimeoutMs; throws a SpoolOpenError saying what to fix. What earlier runs left
   * is read after this resolves, in the background (recovery() says when that is done). Every
   * timer runs on `scheduler`; by default one whose timers never keep the process alive.
   */
  static async open(options: SpoolOptions, emit: EventSink<SpoolEvent>, scheduler: SchedulerLike = unrefScheduler()): Promise<SpoolStore> {
    const root = await openRoot(options.dir, options.openTimeoutMs, scheduler);
    const names = await withDeadline(options.openTimeoutMs, `listing ${root}`, readdir(root), scheduler);
    const store = new SpoolStore(options, root, emit, scheduler);
    const legacy = (await withDeadline(options.openTimeoutMs, `listing ${options.dir}`, readdir(options.dir), scheduler)).filter((n) =>
      LEGACY_SERVE_DIR.test(n),
    );
    if (legacy.length > 0) emit({ kind: 'spool_legacy_found', level: 'warn', dir: options.dir, directories: legacy.length });
    for (const name of names) {
      if (name === MARKER_NAME) continue;
      const socketPath = socketPathOf(name);
      if (socketPath === undefined) {
        store.#skip(new UntrustedEntry(join(root, name), 'unknown_name'));
        continue;
      }
      const spool = new DiskServeSpool(socketPath, join(root, name), store.#account, true);
      store.#serves.set(socketPath, spool);
      store.#found.push(spool);
    }
    await store.#readFreeSpace(); // has its deadline; a failure pauses the spool, said once
    store.#recovery = store.#recoverAll();
    store.#syncTimer = scheduler.schedule(function syncEvery(this: SchedulerAction<undefined>) {
      store.#syncAll();
      this.schedule(undefined, options.syncIntervalMs);
    }, options.syncIntervalMs);
    return store;
  }

  /** One serve at a time: a descriptor or two, however many serves left a spool. */
  async #recoverAll(): Promise<void> {
    for (const spool of this.#found) {
      if (this.#closed) break;
      let found: Recovery | undefined;
      try {
        found = await spool.recover();
      } catch (err) {
        this.#failed('recover', err);
        continue;
      }
      if (found === undefined) continue; // its directory did not check out: said by skipped()
      if (found.batches > 0 || found.skippedBytes > 0) this.#announceRecovery(spool.socketPath, found);
    }
  }

  #announceRecovery(socket: string, found: Recovery): void {
    this.emit({
      kind: 'spool_recovered',
      level: found.skippedBytes > 0 ? 'warn' : 'info',
      serve: found.serve?.name,
      socket,
      batches: found.batches,
      frames: found.frames,
      bytes: found.bytes,
      skipped_bytes: found.skippedBytes,
      damaged_segments: found.damagedSegments,
    });
  }

  #skip(entry: UntrustedEntry): void {
    this.#skipped += 1;
    this.emit({ kind: 'spool_entry_skipped', level: 'warn', path: entry.path, reason: entry.reason, code: entry.errno });
  }

  /** Resolves once every spool found at open() has been read (or the store closed). */
  recovery(): Promise<void> {
    return this.#recovery;
  }

  /** Entries of the spool's directory left alone since open(): not of its layout, or not ours. */
  get skippedEntries(): number {
    return this.#skipped;
  }

  /** Spools found at start-up with batches to deliver, or still being read (their `pending` is above 0 meanwhile). */
  recovered(): readonly ServeSpool[] {
    return this.#found.filter((s) => s.recovering || s.pending > 0);
  }

  /** A serve's spool (made on first use; nothing touches the disk before its first append). */
  serve(socketPath: string): ServeSpool {
    let spool = this.#serves.get(socketPath);
    if (spool === undefined) {
      spool = new DiskServeSpool(socketPath, join(this.root, serveDirName(socketPath)), this.#account, false);
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
    return { bytes: this.#totalBytes, batches, oldestMs, ...this.#moved };
  }

  /**
   * Admission of an append of `bytes` (error pause, cap, floor): undefined when it may go ahead,
   * its room reserved. While found spools are still being read, their bytes are not counted yet:
   * the cap may be passed by what is appended meanwhile; the free-space floor always holds.
   */
  #admit(bytes: number): AppendOutcome | undefined {
    const now = this.scheduler.now();
    if (now < this.#offUntilMs) return 'off';
    if (this.#totalBytes + bytes > this.options.capBytes) return this.#refuse('cap');
    this.#refreshFreeSpace(now);
    const free = this.#free.bytes - this.#free.appendedSince - bytes;
    if (free < this.#free.floor) return this.#refuse('floor');
    if (this.#full !== undefined || this.#offUntilMs !== 0) {
      this.emit({ kind: 'spool_resumed', level: 'info', reason: this.#full ?? 'error', bytes: this.#totalBytes });
      this.#full = undefined;
      this.#offUntilMs = 0;
    }
    this.#totalBytes += bytes;
    this.#free.appendedSince += bytes;
    return undefined;
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
      // With a deadline: a hung mount must not leave `reading` set, and the spool unchecked, forever.
      const fs = await withDeadline(this.options.openTimeoutMs, `statfs of ${this.root}`, statfs(this.root), this.scheduler);
      this.#free.bytes = fs.bavail * fs.bsize;
      this.#free.floor = Math.max(this.options.minFreeRatio * fs.blocks * fs.bsize, this.options.minFreeBytes);
      this.#free.appendedSince = 0;
      this.#free.readAtMs = this.scheduler.now();
    } catch (err) {
      this.#failed('statfs', err);
    } finally {
      this.#free.reading = false;
    }
  }

  /** A disk operation failed: the spool is off for retryAfterErrorMs, said once. */
  #failed(op: string, err: unknown): undefined {
    const now = this.scheduler.now();
    if (now >= this.#offUntilMs) {
      this.emit({ kind: 'spool_failed', level: 'error', op, code: errnoOf(err), retry_in_ms: this.options.retryAfterErrorMs });
    }
    this.#offUntilMs = now + this.options.retryAfterErrorMs;
    return undefined;
  }

  #syncAll(): void {
    for (const spool of this.#serves.values()) void spool.sync();
  }

  /** Stops recovering, syncs and closes every file; the spool stays on disk for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#syncTimer?.unsubscribe();
    await Promise.all([...this.#serves.values()].map((s) => s.close().catch((err: unknown) => this.#failed('sync', err))));
    await this.#recovery;
  }
}
