// One serve's accounts, kept by its lane (lane.ts) and its deliveries (deliver.ts): the ledger
// and drop policy (serveQueue.ts) and the serve's counters (stats.ts), changed together here so
// that every byte admitted is released once and every frame is counted in, out, dropped or lost.
import type { SchedulerLike } from 'rxjs';
import type { EventSink } from '../events';
import type { Serve } from '../servedb/serve';
import type { Batch } from './batch';
import type { SinkEvent } from './events';
import { ServeQueue, type Unannounced } from './serveQueue';
import type { MutableCounters, StatsRecorder } from './stats';

export const serveFields = (serve: Serve) => ({ serve: serve.name, socket: serve.socketPath });

export type Announced = { dropped: Unannounced | undefined; lost: Unannounced | undefined };

export class LaneAccounts {
  readonly #queue: ServeQueue;
  readonly #stats: StatsRecorder;
  readonly #emit: EventSink<SinkEvent>;
  readonly #publish: () => void;
  readonly #scheduler: SchedulerLike;
  // One object for the whole lane: the recorder keeps a serve's entry while any lane of it is open.
  readonly #counters: MutableCounters;
  #latest: Serve | undefined; // the serve as of its latest record, for a last notice-only batch

  /** Call after stats.laneOpened(socketPath). */
  constructor(socketPath: string, capBytes: number, stats: StatsRecorder, emit: EventSink<SinkEvent>, publish: () => void, scheduler: SchedulerLike) {
    this.#queue = new ServeQueue(capBytes);
    this.#stats = stats;
    this.#emit = emit;
    this.#publish = publish;
    this.#scheduler = scheduler;
    this.#counters = stats.countersOf(socketPath);
  }

  get latest(): Serve | undefined {
    return this.#latest;
  }

  /** Frame bytes on the ledger right now (the spool's high-water mark reads it). */
  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  /** The serve's counters, its name taken from `serve` (the name follows the serve's records). */
  named(serve: Serve): MutableCounters {
    return this.#stats.forServe(serve.socketPath, serve.name);
  }

  /** A record the formatter could not render: counted in, nothing admitted. */
  formatFailed(serve: Serve): void {
    this.named(serve).recordsIn += 1;
  }

  /** A record's frames are written: reserve room for them on the ledger, or drop them whole. */
  admit(serve: Serve, bytes: number, frames: number): boolean {
    this.#latest = serve;
    const c = this.named(serve);
    c.recordsIn += 1;
    c.framesIn += frames;
    const queue = this.#queue;
    if (!queue.admit(bytes)) {
      c.dropped += frames;
      // No Date per dropped record: the queue makes one when a run of drops starts.
      if (queue.drop(frames, this.#scheduler.now())) {
        const since = queue.dropSince as Date; // the run just started
        this.#emit({ kind: 'drop', level: 'warn', ...serveFields(serve), phase: 'started', count: frames, since: since.toISOString() });
        this.#publish();
      }
      return false;
    }
    c.queuedBytes = queue.queuedBytes;
    return true;
  }

  hasUnannounced(): boolean {
    return this.#queue.hasUnannounced();
  }

  /** The counts a batch being formed will announce (put back by lost() if it is). */
  takeUnannounced(): Announced {
    return this.#queue.takeUnannounced();
  }

  /** The L10 frames announcing them: a few hundred bytes, on the ledger even over the cap. */
  reserveNotices(noticeBytes: number): void {
    this.#queue.reserve(noticeBytes);
  }

  /** A batch of records was formed: the stats say so. */
  formed(): void {
    this.#counters.queuedBytes = this.#queue.queuedBytes;
    this.#publish();
  }

  /** A post of it failed and will be tried again. */
  retried(): void {
    this.#counters.requestsRetried += 1;
  }

  /** Logplex accepted it. */
  delivered(batch: Batch, wireBytes: number): void {
    const c = this.#counters;
    c.requestsOk += 1;
    c.framesOut += batch.frameCount;
    c.bytesOut += wireBytes;
  }

  /** Given up: its log frames are lost, and the counts it was announcing are put back. */
  lost(batch: Batch): void {
    const c = this.#counters;
    c.requestsFailed += 1;
    c.lost += batch.logFrames;
    if (batch.logFrames > 0) this.#queue.lose(batch.logFrames, new Date(this.#scheduler.now()));
    this.#queue.restore(batch.announced);
  }

  /** Its post ended, either way: its bytes leave the ledger. */
  settled(batch: Batch): void {
    this.#queue.release(batch.ledgerBytes);
    this.#counters.queuedBytes = this.#queue.queuedBytes;
    this.#publish();
  }
}
