// One serve's accounts, kept by its lane (lane.ts) and its deliveries (deliver.ts): the ledger
// and drop policy (serveQueue.ts) and the serve's counters (stats.ts), changed together here so
// that every byte admitted is released once and every frame is counted in, out, dropped or lost.
import type { SchedulerLike } from '../rx';
import type { EventSink } from '../events';
import type { Serve } from '../servedb/serve';
import type { Batch } from './batch';
import type { SinkEvent } from './events';
import { ServeQueue, type Unannounced } from './serveQueue';
import type { MutableCounters, StatsRecorder } from './stats';

export const serveFields = (serve: Serve) => ({ serve: serve.name, socket: serve.socketPath });

export type Announced = { dropped: Unannounced | undefined; lost: Unannounced | undefined };

export interface LaneAccountsConfig {
  readonly socketPath: string; // the serve's; stats.laneOpened(socketPath) has been called
  readonly capBytes: number;
  readonly stats: StatsRecorder;
  readonly emit: EventSink<SinkEvent>;
  readonly publish: () => void; // a stats snapshot now
  readonly publishSoon: () => void; // one within a flush interval (many calls, one snapshot)
  readonly scheduler: SchedulerLike;
  readonly onPending: () => void; // counts became pending that no formed batch carries
}

export class LaneAccounts {
  readonly #queue: ServeQueue;
  readonly #stats: StatsRecorder;
  readonly #emit: EventSink<SinkEvent>;
  readonly #publish: () => void;
  readonly #publishSoon: () => void;
  readonly #scheduler: SchedulerLike;
  readonly #onPending: () => void;
  // One object for the whole lane: the recorder keeps a serve's entry while any lane of it is open.
  readonly #counters: MutableCounters;
  #latest: Serve | undefined; // the serve as of its latest record, for a last notice-only batch

  constructor(config: LaneAccountsConfig) {
    this.#queue = new ServeQueue(config.capBytes);
    this.#stats = config.stats;
    this.#emit = config.emit;
    this.#publish = config.publish;
    this.#publishSoon = config.publishSoon;
    this.#scheduler = config.scheduler;
    this.#onPending = config.onPending;
    this.#counters = config.stats.countersOf(config.socketPath);
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
        this.#onPending();
      } else {
        // A drop spell forms and settles no batch: without this the stats froze at the count
        // the spell started with, while thousands more were dropped.
        this.#publishSoon();
      }
      return false;
    }
    c.queuedBytes = queue.queuedBytes;
    c.queuedFrames += frames; // what a shutdown timeout would abandon, in lines
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

  /**
   * Given up: its log frames are lost, and the counts it was announcing are put back for a later
   * batch to announce; the lane's last batch has none after it, so its notices are lost too.
   * Returns the frames lost.
   */
  lost(batch: Batch): number {
    const c = this.#counters;
    c.requestsFailed += 1;
    if (batch.kind === 'last') {
      c.lost += batch.logFrames + batch.noticeFrames;
      return batch.logFrames + batch.noticeFrames;
    }
    c.lost += batch.logFrames;
    if (batch.logFrames > 0) this.#queue.lose(batch.logFrames, new Date(this.#scheduler.now()));
    this.#queue.restore(batch.announced);
    if (this.#queue.hasUnannounced()) this.#onPending();
    return batch.logFrames;
  }

  /** Its post ended, either way: its bytes leave the ledger. */
  settled(batch: Batch): void {
    this.#queue.release(batch.ledgerBytes);
    this.#counters.queuedBytes = this.#queue.queuedBytes;
    this.#counters.queuedFrames -= batch.logFrames;
    this.#publish();
  }
}
