// One serve's outbox: everything that happens to a batch once its lane (lane.ts) has formed it is
// decided here, and only here. Where a batch can be, in order:
//
//   formed ─ submit() ─ memory queue (gzipped first while backing off or spooling) ─ one of `concurrency` slots ─┐
//     and, for its first try, a sink slot (postSlots.ts: round the serves in turn)                             │
//     (on the ledger from admission)                                                                           │
//   ┌──────────────────────────────────────────────────────────────────────────────────────────────────────────┘
//   ├─ spool holds anything, or memory past its high-water mark ─ gzip ─ append, in formation order ─┐ taken: off the
//   │     refused (cap, floor, disk error): posted, as below                                          │ ledger, on disk
//   └─ posted: first try fails transiently, with a spool ─ gzip ─ append (as above) ───────────────────┘
//              otherwise ─ retried with backoff ─ delivered, or given up: lost, announced by L10
//   spool ─ drain: oldest first, one post at a time, retried for as long as it takes ─ acked when
//           delivered or refused for good; at a stop the post in flight finishes, nothing more is taken
//
// Every byte admitted is on the serve's ledger (ledger.ts) until its batch is delivered, given
// up or on disk; the ledger is what the buffer cap bounds, and its drops and losses are what the
// L10 notices (formed here too) announce. The serve's counters (stats.ts) are changed only here.
//
// The outbox's state names how it is delivering (`nextState` is the whole table):
//
//   sending      logplex takes batches: posted from memory as they come
//   backing_off  a post from memory failed: batches wait in memory, gzipped, and are retried with backoff
//   spooling     the spool holds batches and the drain's post is failing: new batches go to disk behind them
//   draining     the spool holds batches and logplex takes them: posted oldest first; new ones still go to disk
//   closing      no record will come (the sink stops, or the serve went quiet and nothing is held): what is in
//                memory settles, the last notice goes out, a drain finishes only the post in flight
//   closed       everything settled: the sink forgets the outbox
//
// Per serve, lines reach logplex in the order they were read, with one bounded exception: when
// logplex starts failing, a batch in a post slot (at most `concurrency` side by side) may still be
// accepted while an older one fails and goes to the spool. What goes to the spool goes in the order
// the batches were formed, however their failures come back (SpoolTurn). Past the spool's cap or
// floor, batches held in memory are posted beside the drain, and that order is not kept.
import { catchError, concat, concatMap, defer, EMPTY, filter, finalize, ignoreElements, map, Observable, of, Subject, Subscription, take, throwError, timer, tap } from '../rx';
import { sameDelivery, type Serve } from '../servedb/serve';
import { drainSpool, type DrainOutcome } from '../spool/drain';
import type { SpooledBatch } from '../spool/format';
import type { ServeSpool } from '../spool/store';
import { attempt$, batchLostEvent, isTransientPostError, postFailedEvent, postWithRetries, serveFields, type PostingContext } from './attempts';
import { formBatch, NOTICE_ROOM_BYTES, type Batch, type BatchContext, type NoticeLedger } from './batch';
import { refusedByTenant } from './errors';
import { Fifo } from './fifo';
import { Ledger, type Announced } from './ledger';
import type { RetryPolicy } from './options';
import type { PostSlots, SlotTaker } from './postSlots';
import { backoffDelay } from './retryWithBackoff';
import type { MutableCounters, StatsRecorder } from './stats';

export type OutboxState = 'sending' | 'backing_off' | 'spooling' | 'draining' | 'closing' | 'closed';

/** What moves an outbox from one state to another. */
export type OutboxEvent =
  | 'post_ok' // a post from memory was accepted
  | 'post_failed' // a post from memory failed (retried from memory, or given up)
  | 'spooled' // a batch went to the spool
  | 'drain_ok' // a post from the spool was accepted
  | 'drain_failed' // a post from the spool failed
  | 'spool_empty' // the drain found nothing left
  | 'close' // no batch will be submitted any more
  | 'settled'; // closing, and nothing is left in flight

const TRANSITIONS: { readonly [S in OutboxState]: Partial<Readonly<Record<OutboxEvent, OutboxState>>> } = {
  sending: { post_failed: 'backing_off', spooled: 'spooling', drain_ok: 'draining', drain_failed: 'spooling', close: 'closing' },
  backing_off: { post_ok: 'sending', spooled: 'spooling', drain_ok: 'draining', drain_failed: 'spooling', close: 'closing' },
  spooling: { drain_ok: 'draining', spool_empty: 'sending', close: 'closing' },
  draining: { drain_failed: 'spooling', spool_empty: 'sending', close: 'closing' },
  closing: { settled: 'closed' },
  closed: {},
};

/** The state after `event`; an event the table does not list for a state leaves it as it is. */
export function nextState(state: OutboxState, event: OutboxEvent): OutboxState {
  return TRANSITIONS[state][event] ?? state;
}

/** What an outbox needs of the spool store (SpoolStore has it; the marbles pass one in memory). */
export interface SpoolAccess {
  readonly options: { readonly highWaterBytes: number };
  /** A serve's spool (made on first use). */
  serve(socketPath: string): ServeSpool;
}

/** What every outbox of a sink shares. */
export interface OutboxContext extends PostingContext, BatchContext {
  readonly stats: StatsRecorder;
  readonly publish: () => void; // a stats snapshot (coalesced by the sink)
  readonly publishSoon: () => void; // one within a flush interval (many calls, one snapshot)
  /** The serve at this socket path as the serve set has it now; undefined when unknown. */
  readonly currentServe: (socketPath: string) => Serve | undefined;
  readonly spool: SpoolAccess | undefined; // with --spool-dir
  readonly slots: PostSlots; // first tries in flight across every serve (maxPostsInFlight)
  /** A body deflated at the fastest level; off the event loop (gzipFast) unless a test keeps it on a virtual clock. */
  readonly deflate: (body: Buffer) => Observable<Buffer>;
  /** Told of every change of state (the sink keeps the spool's gauges moving while one is spooling). */
  readonly stateChanged: (outbox: Outbox, state: OutboxState) => void;
  /** The outbox is closed (or failed with `error`, a bug: the sink fails with it). */
  readonly ended: (outbox: Outbox, error?: unknown) => void;
}

/** The notice-only batch: none planned, one planned within a flush interval, or one out. */
type NoticeSlot = { readonly kind: 'none' } | { readonly kind: 'planned'; readonly timer: Subscription } | { readonly kind: 'out' };
const NO_NOTICE: NoticeSlot = { kind: 'none' };

/** A drain of the serve's spool while it runs. */
interface DrainRun {
  readonly subscription: Subscription;
  kickedAgain: boolean; // a batch landed while it was finishing: run again
  // A try in flight, or a batch it delivered that is not yet acked: close() lets either finish
  // (the ack is what keeps it from being posted again, and what frees its segment).
  holding: boolean;
}

/** A batch in the memory queue, past its gzip, waiting for a post slot; `turn` with a spool only. */
interface Queued {
  readonly batch: Batch;
  readonly turn: SpoolTurn | undefined;
}

/** The last batch (what is still unannounced once the rest has settled): not due, queued or posting, done. */
type LastBatch = 'to_come' | 'out' | 'done';

/** How a post from memory ended. */
type PostOutcome = 'delivered' | 'spooled' | 'lost';

/** A batch that failed its first try and was spooled: the drain goes on from that try. */
interface Spilled {
  readonly tries: number;
  readonly delayMs: number;
}
/**
 * A batch's place in the line for the spool, taken as it heads for a post slot: `ahead` completes
 * once every batch that headed there before it is done with the spool, and `done` says this one is
 * (delivered on its first try, on disk, retrying from memory, or lost). Its spill waits for
 * `ahead`, and so does a newer batch appended because the spool holds anything.
 */
interface SpoolTurn {
  readonly ahead: Observable<never>;
  readonly done: () => void;
}

const spillKey = (b: { readonly createdAtMs: number; readonly frameCount: number; readonly body: Buffer }): string => `${b.createdAtMs}:${b.frameCount}:${b.body.length}`;

export class Outbox implements NoticeLedger, SlotTaker {
  readonly socketPath: string;
  readonly #ctx: OutboxContext;
  readonly #ledger: Ledger;
  readonly #counters: MutableCounters; // one object for the outbox's life
  readonly #spool: ServeSpool | undefined;
  #drainPolicyMade: RetryPolicy | undefined; // made when a batch first goes to the spool
  // The memory queue is plain state, made on first use: a serve that sends one record in its
  // life costs no Subject, operator chain or subscription until its batch is posted (10,000 such
  // pipelines, built at once, were most of what the garbage collector had to do).
  #entering: Fifo<Batch> | undefined; // formed (records, notices), waiting for the gzip ahead of them
  #gzipping: Subscription | undefined; // the one gzip under way: batches enter in order
  #queued: Fifo<Queued> | undefined; // ready, waiting for one of the serve's `concurrency` slots and a sink slot
  #inFlight = 0; // posts from memory (and appends) under way, retries included: at most `concurrency`
  #posts: Subscription | undefined; // those posts, for an abort
  #wantsSlot = false; // waiting in the sink's line for a post slot (PostSlots)
  #noMore = false; // closing: nothing more enters the memory queue
  #last: LastBatch = 'to_come';
  #pumping = false; // inside #pump(): a nested call only asks for another round
  #pumpAgain = false;
  #spilled: Map<string, Spilled> | undefined; // at most `concurrency` per outage: only posts in flight spill
  #state: OutboxState = 'sending';
  #lanes = 0; // record lanes feeding it (lane.ts)
  #latest: Serve | undefined; // the serve as of its latest record, for a notice when the serve set has none
  #notice: NoticeSlot = NO_NOTICE;
  #refusedWith: Serve | undefined; // the delivery a notice batch was last given up with: not tried again with it
  #drain: DrainRun | undefined;
  // Spool turns (SpoolTurn): taken in order by the posts from memory; every one below `#turnsOver` is done.
  #turnsTaken = 0;
  #turnsOver = 0;
  #turnsDoneEarly: Set<number> | undefined; // done while one ahead of it is not
  #turnsMoved: Subject<void> | undefined; // made when a batch first waits for its turn

  constructor(socketPath: string, ctx: OutboxContext) {
    this.socketPath = socketPath;
    this.#ctx = ctx;
    this.#ledger = new Ledger(ctx.options.bufferCapBytes);
    ctx.stats.opened(socketPath);
    this.#counters = ctx.stats.countersOf(socketPath);
    this.#spool = ctx.spool?.serve(socketPath);
  }

  /** How a spooled batch is retried. On disk, not in memory: waiting costs nothing but the spool's room, so no limit. */
  get #drainPolicy(): RetryPolicy {
    return (this.#drainPolicyMade ??= { ...this.#ctx.options.retry, maxAttempts: Number.POSITIVE_INFINITY, maxAgeMs: Number.POSITIVE_INFINITY });
  }

  get state(): OutboxState {
    return this.#state;
  }

  /** Takes batches (and lanes) until it closes; a serve's next record after that needs a new outbox. */
  get open(): boolean {
    return this.#state !== 'closing' && this.#state !== 'closed';
  }

  /** Frame bytes on the ledger right now. */
  get queuedBytes(): number {
    return this.#ledger.queuedBytes;
  }

  /** Records counted in (a lane's idle check reads it). */
  get recordsIn(): number {
    return this.#counters.recordsIn;
  }

  // ── what the lane calls ───────────────────────────────────────────────────────────────────

  laneOpened(): void {
    this.#lanes += 1;
  }

  /** A lane ended (its last batch submitted): retire if nothing is held, or close if the sink stops. */
  laneEnded(): void {
    this.#lanes -= 1;
    this.#retireIfIdle();
  }

  /** A record the formatter could not render: counted in, nothing admitted. */
  formatFailed(serve: Serve): void {
    this.#named(serve).recordsIn += 1;
  }

  /** A record's frames are written: reserve room for them on the ledger, or drop them whole. */
  admit(serve: Serve, bytes: number, frames: number): boolean {
    this.#latest = serve;
    const c = this.#named(serve);
    c.recordsIn += 1;
    c.framesIn += frames;
    const ledger = this.#ledger;
    if (!ledger.admit(bytes)) {
      c.dropped += frames;
      // No Date per dropped record: the ledger makes one when a run of drops starts.
      if (ledger.drop(frames, this.#ctx.scheduler.now())) {
        const since = ledger.dropSince as Date; // the run just started
        this.#ctx.emit({ kind: 'drop', level: 'warn', ...serveFields(serve), phase: 'started', count: frames, since: since.toISOString() });
        this.#ctx.publish();
        this.#planNotice();
      } else {
        // A drop spell forms and settles no batch: without this the stats froze at the count
        // the spell started with.
        this.#ctx.publishSoon();
      }
      return false;
    }
    c.queuedBytes = ledger.queuedBytes;
    c.queuedFrames += frames; // what a shutdown timeout would abandon, in lines
    return true;
  }

  takeUnannounced(): Announced {
    return this.#ledger.takeUnannounced();
  }

  reserveNotices(noticeBytes: number): void {
    this.#ledger.reserve(noticeBytes);
  }

  /** A batch of records the lane formed: from now on its fate is decided here. */
  submit(batch: Batch): void {
    this.#counters.queuedBytes = this.#ledger.queuedBytes;
    this.#ctx.publish();
    this.#enter(batch);
  }

  // ── what the sink calls ───────────────────────────────────────────────────────────────────

  /**
   * Graceful end (the sink's input completed, after its lanes): what is in memory settles, the
   * last notice goes out, and a drain lets the post in flight finish (acked when delivered) and
   * takes nothing more; a drain waiting between tries stops now. What it leaves on disk is for
   * the next start.
   */
  close(): void {
    if (!this.open) return;
    this.#to('close');
    if (this.#notice.kind === 'planned') this.#notice.timer.unsubscribe();
    if (this.#notice.kind !== 'out') this.#notice = NO_NOTICE;
    const drain = this.#drain;
    if (drain !== undefined && !drain.holding) {
      this.#drain = undefined;
      drain.subscription.unsubscribe();
    }
    this.#spilled = undefined;
    this.#noMore = true;
    this.#pump();
  }

  /** Abrupt end (the sink unsubscribed): requests in flight are aborted, nothing more happens. */
  abort(): void {
    if (this.#notice.kind === 'planned') this.#notice.timer.unsubscribe();
    this.#notice = NO_NOTICE;
    this.#drain?.subscription.unsubscribe();
    this.#drain = undefined;
    this.#noMore = true;
    this.#entering = undefined;
    this.#queued = undefined;
    this.#gzipping?.unsubscribe();
    this.#gzipping = undefined;
    this.#posts?.unsubscribe();
    this.#posts = undefined;
    this.#last = 'done';
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.#ctx.stats.closed(this.socketPath);
    }
  }

  /** Drain the serve's spool if it holds anything (after an append, and at start for what an earlier run left). */
  kickDrain(): void {
    const spool = this.#spool;
    if (spool === undefined || !this.open) return;
    const running = this.#drain;
    if (running !== undefined) {
      running.kickedAgain = true;
      return;
    }
    if (spool.pending === 0) return;
    const run: DrainRun = { subscription: new Subscription(), kickedAgain: false, holding: false };
    this.#drain = run;
    const done = (): void => {
      if (this.#drain !== run) return;
      this.#drain = undefined;
      if (spool.pending === 0) this.#to('spool_empty');
      // An append that landed after the drain's last look: start again. Only then: a spool
      // whose ack failed (the disk) keeps a pending count it cannot drain, and must not spin.
      if (run.kickedAgain) this.kickDrain();
      this.#settleIfDone();
      this.#retireIfIdle();
    };
    run.subscription.add(drainSpool(spool, (batch) => this.#postSpooled(batch, run), () => this.open).subscribe({ complete: done, error: done }));
  }

  // ── the memory queue ──────────────────────────────────────────────────────────────────────

  /** Into the memory queue, behind every batch formed before it. */
  #enter(batch: Batch): void {
    (this.#entering ??= new Fifo()).push(batch);
    this.#pump();
  }

  /** A sink slot is ours (PostSlots): one batch goes out with it, and we get back in line for the next. */
  slotGranted(): boolean {
    this.#wantsSlot = false;
    const next = this.#queued?.shift();
    if (next === undefined || this.#state === 'closed') return false;
    this.#start(next);
    this.#pump();
    return true;
  }

  /**
   * Moves the memory queue on as far as it goes now: batches through their gzip (one at a time, in
   * order), queued batches into post slots, and, closing with nothing left, the last batch. Anything
   * that moves it (a batch formed, a gzip or post done, a slot) calls it; a call from inside (a post
   * that ended at once) makes one more round instead of a nested one.
   */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#gzipAhead();
        this.#startPosts();
        this.#queueLast();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
    if (this.#last === 'done') this.#settleIfDone();
  }

  /**
   * A body under NOTICE_ROOM_BYTES (a notice, a quiet serve's few lines) would save at most a few
   * KiB held: it waits as it is, without a trip through zlib. A batch's spool turn is taken as it
   * leaves here, in formation order: whatever its path to the spool (sent there at once, or after
   * a failed first try), it is appended after every older one's.
   */
  #gzipAhead(): void {
    const entering = this.#entering;
    while (entering !== undefined && this.#gzipping === undefined && this.#state !== 'closed') {
      const batch = entering.shift();
      if (batch === undefined) return;
      if (!this.#goesToDisk() && !(this.#state === 'backing_off' && batch.body.length >= NOTICE_ROOM_BYTES)) {
        this.#queue(batch);
        continue;
      }
      const gzipping = new Subscription();
      this.#gzipping = gzipping;
      let gz: Batch | undefined;
      gzipping.add(
        this.#gzipped(batch, 'never sent').subscribe({
          next: (b) => (gz = b),
          complete: () => {
            if (this.#gzipping !== gzipping) return;
            this.#gzipping = undefined;
            this.#queue(gz ?? batch);
            this.#pump();
          },
          error: (err: unknown) => this.#fail(err),
        }),
      );
    }
  }

  #queue(batch: Batch): void {
    (this.#queued ??= new Fifo()).push({ batch, turn: this.#spool === undefined ? undefined : this.#takeTurn() });
  }

  /**
   * Queued batches beyond `concurrency` wait here, on the ledger, where the buffer cap turns a long
   * wait (a slow disk, a failing logplex) into drops; so do batches waiting for a sink slot, one
   * batch per turn of the sink's line. Where a batch goes is decided once it has a slot: every
   * batch older than it has one too, or is done, so its turn waits only on first tries and appends
   * already under way, never on a batch queued behind it.
   */
  #startPosts(): void {
    const queued = this.#queued;
    while (queued !== undefined && queued.length > 0 && this.#inFlight < this.#ctx.options.concurrency && !this.#wantsSlot && this.#state !== 'closed') {
      if (!this.#ctx.slots.take(this)) {
        this.#wantsSlot = true;
        return;
      }
      this.#start(queued.shift() as Queued);
    }
  }

  /** One queued batch posted (or spooled) with a sink slot, released once its first try is answered. */
  #start({ batch, turn }: Queued): void {
    this.#inFlight += 1;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#ctx.slots.release();
    };
    const post$ = batch.kind === 'last' ? this.#post(batch, undefined, release) : this.#sendOrSpool(batch, turn, release);
    let completed = false;
    const subscription = post$.subscribe({
      complete: () => (completed = true),
      error: (err: unknown) => {
        release();
        this.#fail(err);
      },
    });
    // After the post's own finalize (its batch settled on the ledger and in the counters), as
    // mergeMap does: a slot freed before that could let the outbox close with the batch unsettled.
    subscription.add(() => {
      if (!completed) return; // aborted, or failed: nothing moves on
      this.#inFlight -= 1;
      release();
      this.#pump();
    });
    // A subscription removes itself from this container when it ends.
    if (!subscription.closed) (this.#posts ??= new Subscription()).add(subscription);
  }

  /**
   * What is still unannounced once every other post has settled (drops after the last batch
   * formed, the loss of a batch that was still retrying) would otherwise never be told to logplex.
   */
  #queueLast(): void {
    if (!this.#noMore || this.#last === 'done' || this.#gzipping !== undefined || this.#inFlight > 0) return;
    if ((this.#entering?.length ?? 0) > 0 || (this.#queued?.length ?? 0) > 0) return;
    if (this.#last === 'out') {
      this.#last = 'done'; // posted and settled
      return;
    }
    const serve = this.#current();
    if (serve === undefined || !this.#ledger.hasUnannounced()) {
      this.#last = 'done';
      return;
    }
    this.#last = 'out';
    this.#queue(formBatch('last', serve, undefined, this.#now(), this, this.#ctx));
    this.#startPosts();
  }

  /** A bug on the way (a gzip or an append that threw): the outbox stops, and the sink fails. */
  #fail(err: unknown): void {
    this.abort();
    this.#ctx.ended(this, err);
  }

  // ── where a formed batch goes ─────────────────────────────────────────────────────────────

  #goesToDisk(): boolean {
    const spool = this.#spool;
    return spool !== undefined && (spool.pending > 0 || this.#ledger.queuedBytes > (this.#ctx.spool?.options.highWaterBytes ?? Number.POSITIVE_INFINITY));
  }

  /** To the spool while it holds anything (live lines wait behind it) or memory is past its mark; else posted. */
  #sendOrSpool(batch: Batch, turn: SpoolTurn | undefined, release: () => void): Observable<never> {
    return defer(() => {
      const spool = this.#spool;
      if (spool === undefined || turn === undefined || !this.#goesToDisk()) return this.#post(batch, turn, release);
      // Nothing of it goes to logplex now: the sink slot is free for another serve's post. Refused
      // by the spool, it is posted within the serve's own `concurrency`, without one.
      release();
      return concat(turn.ahead, defer(() => this.#gzipped(batch, 'never sent'))).pipe(
        concatMap((gz) => spool.append(spooledOf(gz, this.#ctx.scheduler.now())).pipe(map((outcome) => ({ gz, outcome })))),
        concatMap(({ gz, outcome }) => {
          // Refused (cap, floor, disk error): posted from memory as without a spool, in the same turn.
          if (outcome !== 'spooled') return this.#post(gz, turn, release);
          turn.done();
          this.#settled(gz, 'spooled');
          this.#to('spooled');
          this.kickDrain();
          return EMPTY;
        }),
      );
    });
  }

  /**
   * A batch held as gzip. One path for every batch that waits: one `never sent` gives its body
   * back to the pool at once; one that was sent in a failed post does not, since the HTTP client
   * may still hold it (bodyPool.ts).
   */
  #gzipped(batch: Batch, history: 'never sent' | 'sent'): Observable<Batch> {
    if (batch.gzipped === true) return of(batch);
    return this.#ctx.deflate(batch.body).pipe(
      map((gz) => {
        if (history === 'never sent') this.#ctx.bodies.give(batch.body);
        return { ...batch, body: gz, gzipped: true };
      }),
    );
  }

  /**
   * Post one batch from memory with retries; settle it on the ledger whatever happens. With a
   * `turn` (and a spool), a transient failure of its first try may send it to the spool.
   * `release` gives back its sink slot: called once its first try is answered (or it ends).
   */
  #post(batch: Batch, turn: SpoolTurn | undefined, release: () => void): Observable<never> {
    const ctx = this.#ctx;
    this.#named(batch.serve);
    let outcome: PostOutcome = 'lost';
    return postWithRetries(batch, ctx, ctx.options.retry, {
      attempt: (prepared, tryIndex) => {
        const once = attempt$(ctx.client, prepared);
        // With a spool, a transient failure of the first try sends the batch there instead of to the retries.
        if (tryIndex > 0 || turn === undefined || this.#spool === undefined) return once;
        return once.pipe(
          tap(turn.done), // delivered: nothing of it goes to the spool
          catchError((err: unknown) => {
            release(); // answered: the spool's append needs no sink slot
            return this.#spill(batch, err, turn.ahead).pipe(
              finalize(turn.done),
              concatMap((spooled) => {
                if (!spooled) return throwError(() => err); // refused: retried from memory as without a spool
                outcome = 'spooled';
                return EMPTY;
              }),
            );
          }),
        );
      },
      onFailure: (f) => {
        release(); // its retries wait in the serve's own slots, not the sink's
        this.#to('post_failed');
        if (f.willRetry) this.#counters.requestsRetried += 1;
        ctx.emit(postFailedEvent(batch, f));
        ctx.publishSoon();
      },
    }).pipe(
      tap((result) => {
        release();
        outcome = 'delivered';
        this.#to('post_ok');
        const c = this.#counters;
        c.requestsOk += 1;
        c.framesOut += batch.frameCount;
        c.bytesOut += result.bytes;
      }),
      ignoreElements(),
      catchError((err: unknown) => {
        const frames = this.#lost(batch, err);
        // A notice batch loses nothing: its counts wait for the next batch (post_failed said why).
        if (batch.kind !== 'notice') ctx.emit(batchLostEvent(batch, frames, err));
        return EMPTY;
      }),
      finalize(() => {
        release(); // not prepared, or unsubscribed
        turn?.done(); // without a first try (no spool), or unsubscribed
        if (outcome === 'delivered') ctx.bodies.give(batch.body); // answered 2xx: the server read all of it
        this.#settled(batch, outcome);
      }),
    );
  }

  /**
   * A batch whose first try failed, offered to the spool: emits whether it took it. Taken, its
   * failure is told once, here, with the wait before the drain tries it again.
   */
  #spill(batch: Batch, err: unknown, ahead: Observable<never>): Observable<boolean> {
    const spool = this.#spool;
    if (spool === undefined || !isTransientPostError(err)) return throwError(() => err);
    // Posts in flight fail in whatever order their answers come; appended as they failed, an
    // older batch would land behind a newer one and the drain would post them out of order.
    return concat(ahead, defer(() => this.#gzipped(batch, 'sent'))).pipe(
      concatMap((gz) => {
        const spooled = spooledOf(gz, this.#ctx.scheduler.now());
        return spool.append(spooled).pipe(
          map((outcome) => {
            if (outcome !== 'spooled') return false;
            const delayMs = backoffDelay(1, this.#drainPolicy, this.#ctx.random);
            (this.#spilled ??= new Map()).set(spillKey(spooled), { tries: 1, delayMs });
            this.#to('spooled');
            this.#counters.requestsRetried += 1;
            this.#ctx.emit(postFailedEvent(batch, { error: err, attempt: 1, willRetry: true, delayMs }));
            this.kickDrain();
            return true;
          }),
        );
      }),
    );
  }

  /**
   * One spooled batch posted by the drain: delivered or refused for good, it is `settled` (acked);
   * a failure once the outbox is closing leaves it on disk for the next start.
   */
  #postSpooled(batch: SpooledBatch, run: DrainRun): Observable<DrainOutcome> {
    const ctx = this.#ctx;
    const counters = ctx.stats.forServe(batch.serve.socketPath, batch.serve.name);
    const key = spillKey(batch);
    const spilled = this.#spilled?.get(key);
    this.#spilled?.delete(key);
    // A batch spooled after failing its first try: its next try waits the backoff that failure announced.
    const wait$ = spilled === undefined ? EMPTY : timer(spilled.delayMs, ctx.scheduler).pipe(ignoreElements());
    const closing = (): boolean => !this.open;
    const post$ = postWithRetries(batch, ctx, this.#drainPolicy, {
      triesBefore: spilled?.tries,
      attempt: (prepared) =>
        defer(() => {
          run.holding = true;
          // Delivered, it is held on until its ack (the next batch lets go); failed, the wait
          // before the next try is what a close cuts short.
          return attempt$(ctx.client, prepared).pipe(tap({ error: () => (run.holding = false), unsubscribe: () => (run.holding = false) }));
        }),
      // Closing: no further try, whatever the error; the batch stays on disk.
      isTransient: (e) => !closing() && isTransientPostError(e),
      onFailure: (f) => {
        if (closing()) return;
        this.#to('drain_failed');
        if (f.willRetry) counters.requestsRetried += 1;
        ctx.emit(postFailedEvent(batch, f));
        ctx.publishSoon();
      },
    });
    const posted$ = concat(wait$, post$).pipe(
      map((result): DrainOutcome => {
        counters.requestsOk += 1;
        counters.framesOut += batch.frameCount;
        counters.bytesOut += result.bytes;
        this.#to('drain_ok');
        return 'settled';
      }),
      catchError((err: unknown) => {
        if (closing()) return of<DrainOutcome>('left');
        // Refused for good (a token revoked since, say): counted lost like any given-up batch,
        // and acked: it would be refused again.
        counters.requestsFailed += 1;
        counters.lost += batch.logFrames;
        if (refusedByTenant(err)) counters.refused += batch.logFrames;
        ctx.emit(batchLostEvent(batch, batch.logFrames, err));
        return of<DrainOutcome>('settled');
      }),
      finalize(ctx.publish),
    );
    return defer(() => {
      // Taken from the spool as the outbox closed: it stays there, for the next start.
      if (closing()) return of<DrainOutcome>('left');
      run.holding = false; // the last batch's ack is done: the drain asks for this one only now
      return posted$;
    });
  }

  // ── the order of the spool ───────────────────────────────────────────────────────────────

  #takeTurn(): SpoolTurn {
    const seq = this.#turnsTaken;
    this.#turnsTaken += 1;
    let done = false;
    return {
      ahead: this.#turnsAhead(seq),
      done: () => {
        if (done) return;
        done = true;
        const before = this.#turnsOver;
        if (seq === before) this.#turnsOver += 1;
        else (this.#turnsDoneEarly ??= new Set()).add(seq);
        // A loop, not a chain of completions: any number of turns done behind a slow one end here at once.
        const early = this.#turnsDoneEarly;
        if (early !== undefined) while (early.delete(this.#turnsOver)) this.#turnsOver += 1;
        if (this.#turnsOver !== before) this.#turnsMoved?.next();
      },
    };
  }

  /** Completes once every turn below `seq` is done. */
  #turnsAhead(seq: number): Observable<never> {
    return defer(() =>
      this.#turnsOver >= seq
        ? EMPTY
        : (this.#turnsMoved ??= new Subject<void>()).pipe(
            filter(() => this.#turnsOver >= seq),
            take(1),
            ignoreElements(),
          ),
    );
  }

  // ── the accounts ──────────────────────────────────────────────────────────────────────────

  /** The serve's counters, its name taken from `serve` (the name follows the serve's records). */
  #named(serve: Serve): MutableCounters {
    return this.#ctx.stats.forServe(serve.socketPath, serve.name);
  }

  /**
   * Given up: its log frames are lost, and the counts it was announcing are put back for a later
   * batch to announce; the last batch has none after it, so its notices are lost too. Returns
   * the frames lost.
   */
  #lost(batch: Batch, err: unknown): number {
    const c = this.#counters;
    c.requestsFailed += 1;
    const frames = batch.kind === 'last' ? batch.logFrames + batch.noticeFrames : batch.logFrames;
    c.lost += frames;
    if (refusedByTenant(err)) c.refused += frames;
    if (batch.kind === 'last') return frames;
    if (batch.logFrames > 0) this.#ledger.lose(batch.logFrames, this.#now());
    this.#ledger.restore(batch.announced);
    if (this.#ledger.hasUnannounced()) this.#planNotice();
    return frames;
  }

  /** It left memory (delivered, given up, or on disk): its bytes leave the ledger. */
  #settled(batch: Batch, outcome: PostOutcome): void {
    this.#ledger.release(batch.ledgerBytes);
    this.#counters.queuedBytes = this.#ledger.queuedBytes;
    this.#counters.queuedFrames -= batch.logFrames;
    this.#ctx.publish();
    const handedOver = outcome !== 'lost'; // on disk counts as out of our hands
    if (handedOver) this.#refusedWith = undefined;
    if (batch.kind === 'notice') {
      this.#notice = NO_NOTICE;
      if (!handedOver) this.#refusedWith = batch.serve;
      this.#planNotice(); // counts that came while it was out, or its own put back
    }
    this.#retireIfIdle();
  }

  // ── notices that no record carries ────────────────────────────────────────────────────────

  /**
   * Counts pending with no record to carry them go out alone (a `notice` batch) within a flush
   * interval. One at a time, so an outage queues one notice and not one per interval. A notice
   * refused for good (a revoked token, say) is not retried with the same delivery: the counts
   * wait for a record's batch or a new token, and the last batch, rather than posting every interval.
   */
  #planNotice(): void {
    if (this.#notice.kind !== 'none' || !this.open || !this.#ledger.hasUnannounced()) return;
    const timer = this.#ctx.scheduler.schedule(() => {
      this.#notice = NO_NOTICE;
      this.#sendNotice();
      this.#retireIfIdle();
    }, this.#ctx.options.flushIntervalMs);
    this.#notice = { kind: 'planned', timer };
  }

  #sendNotice(): void {
    if (!this.open || !this.#ledger.hasUnannounced()) return;
    const serve = this.#current();
    if (serve === undefined) return;
    if (this.#refusedWith !== undefined && sameDelivery(this.#refusedWith, serve)) {
      this.#planNotice(); // look again: the serve set may change the token
      return;
    }
    this.#notice = { kind: 'out' };
    this.#enter(formBatch('notice', serve, undefined, this.#now(), this, this.#ctx));
  }

  /** Notices go out as the serve set has the serve now: a token fixed since the last record applies. */
  #current(): Serve | undefined {
    return this.#ctx.currentServe(this.socketPath) ?? this.#latest;
  }

  // ── state ─────────────────────────────────────────────────────────────────────────────────

  #to(event: OutboxEvent): void {
    const next = nextState(this.#state, event);
    if (next === this.#state) return;
    this.#state = next;
    this.#ctx.stateChanged(this, next);
  }

  /**
   * A serve gone quiet with nothing held closes (its pending counts go out in the last notice);
   * the sink then forgets it.
   */
  #retireIfIdle(): void {
    if (!this.open || this.#lanes > 0 || this.#drain !== undefined || this.#notice.kind === 'out') return;
    if (this.#ledger.queuedBytes > 0 || (this.#spool?.pending ?? 0) > 0) return;
    this.close();
  }

  /** Closing, with the memory queue, the last notice and the drain all done: closed. */
  #settleIfDone(): void {
    if (this.#state !== 'closing' || this.#last !== 'done' || this.#drain !== undefined) return;
    this.#to('settled');
    this.#ctx.stats.closed(this.socketPath);
    this.#ctx.publish();
    this.#ctx.ended(this);
  }

  #now(): Date {
    return new Date(this.#ctx.scheduler.now());
  }
}

/** A formed batch as the spool keeps it (its body gzipped beforehand). */
export function spooledOf(batch: Batch, createdAtMs: number): SpooledBatch {
  return {
    serve: batch.serve,
    body: batch.body,
    gzipped: batch.gzipped === true,
    frameCount: batch.frameCount,
    logFrames: batch.logFrames,
    dropCount: batch.dropCount,
    lostCount: batch.lostCount,
    createdAtMs,
  };
}
