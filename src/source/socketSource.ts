// The source stage: from the serve sets the serve database accepts, to every record PostgreSQL
// sends on any serve's socket, tagged with that serve.
import type { Socket } from 'node:net';
import { asyncScheduler, Observable, type SchedulerLike, type Subscriber, type Subscription } from '../rx';
import { Budget } from '../budget';
import { Admission, type ServeAdmission } from './admission';
import { ignoreEvents, type EventSink } from '../events';
import type { Serve, ServeSet } from '../servedb/serve';
import { readConnection, type ConnectionOptions } from './connection';
import type { ListenErrorEvent, SourceEvent } from './events';
import { immediateGate, sliceGate, type Gate } from './sliceGate';
import { ListenError, listenUnix } from './listenUnix';
import { resolveSourceOptions, type SourceOptions } from './options';
import { ReadTicks } from './readTicks';
import { rebindOnServeSet } from './rebindOnServeSet';
import { SocketDirectories } from './socketDirectory';
import { RefusalReport } from './refusals';
import { subscribeLive } from '../subscribeLive';
import { Throttle, type Throttled } from '../throttle';
import { unrefScheduler } from '../unrefScheduler';
import type { SourcedChunk } from './sourcedRecord';

export type SocketSourceOptions = Partial<SourceOptions> & {
  readonly events?: EventSink<SourceEvent>; // where listen/connect/disconnect/... are reported
  // Every timer: read ticks, handshakes, drains, listen retries; asyncScheduler when absent. And
  // refusal reports, on an unref'd one when absent (a report never keeps the process alive).
  readonly scheduler?: SchedulerLike;
};

/**
 * Listens on every serve's socket and emits the records of every connection that identified as
 * that serve, one chunk per read (readConnection), tagged with the serve as it is at the read (a
 * token change applies from the next read, on the same connection), `receivedAt` the scheduler's
 * time of the read (the wall clock with the default scheduler: it is a log line's time, data
 * rather than a timer).
 *
 * Reloads (each emission of `serveSet$` is the whole desired set, keyed by socket path):
 * - unchanged serve: untouched; its listener and open connections carry on.
 * - changed name/URL/user/token: pushed to the running serve; open connections carry on.
 * - changed identity: the listener carries on; connections that identified as the old identity
 *   are closed (`identity_mismatch`); new connections are checked against the new one.
 * - removed serve: stops listening and removes its socket file at once, then its connections
 *   drain (read until idle for `drainIdleMs`, at most `drainTimeoutMs`) and are closed.
 * - new serve: starts listening. A serve whose socket cannot be created logs `listen_error` and
 *   retries every `listenRetryMs`; every other serve keeps serving. The error is logged again
 *   when its cause changes and every LISTEN_ERROR_REPEAT_MS, not on every retry.
 *
 * What completes when:
 * - `serveSet$` completes (the daemon's graceful stop: pipe it through `takeUntil(sigterm$)`):
 *   every serve is stopped as if removed — all listeners close and their socket files are
 *   removed at once, then connections drain and close — and the result completes after the last
 *   connection closed, i.e. at most `drainTimeoutMs` later. Records read meanwhile are emitted.
 * - `serveSet$` errors: the error is forwarded at once, everything is torn down abruptly.
 * - Unsubscribing: abrupt; every listener closes, every socket file is removed, every connection
 *   is destroyed without draining.
 * - A serve set with no serves does not complete anything: the source just serves nothing.
 */
export function socketSource(serveSet$: Observable<ServeSet>, options: SocketSourceOptions = {}): Observable<SourcedChunk> {
  const resolved = resolveSourceOptions(options);
  const events = options.events ?? ignoreEvents;
  const scheduler = options.scheduler ?? asyncScheduler;
  const reports = options.scheduler ?? unrefScheduler();
  // One budget for every connection of every serve: a bound on the daemon, not per tenant.
  const connectionOptions: ConnectionOptions = { ...resolved, events, scheduler, partials: new Budget(resolved.maxPartialBytes) };
  // Descriptors for listeners and connections: what the open-file limit leaves past the reserve.
  const descriptors = new Budget((resolved.openFileLimit ?? Infinity) - resolved.reservedFileDescriptors);
  return new Observable<SourcedChunk>((subscriber) => {
    // Per subscription, like the gate: who holds which connections, and the descriptors' owners.
    const admission = new Admission(descriptors, resolved);
    // One gate per subscription, for starting and stopping serves and creating their sockets.
    const gate = resolved.listenSliceMs > 0 ? sliceGate(resolved.listenSliceMs) : immediateGate;
    // What its listeners know of their directories, and which sockets they hold: this source's
    // alone, so that two collectors in one process never share it.
    const directories = new SocketDirectories();
    // And one timer reading every connection of every serve.
    const ticks = resolved.readIntervalMs > 0 ? new ReadTicks(resolved.readIntervalMs, scheduler) : undefined;
    const connections: ConnectionOptions = { ...connectionOptions, ticks };
    const context: SourceContext = { options: resolved, connections, scheduler, reports, admission, gate, directories };
    return serveSet$.pipe(rebindOnServeSet((serve$, socketPath) => serveRecords(serve$, socketPath, context), gate)).subscribe(subscriber);
  });
}

/**
 * How often a listen failure that goes on (a missing directory, say) is logged again: a line every
 * retry (10 s) would bury the rest of the log, and silence would hide that it is still broken.
 */
export const LISTEN_ERROR_REPEAT_MS = 10 * 60_000;

/** What every serve of one subscription shares. */
interface SourceContext {
  readonly options: SourceOptions;
  readonly connections: ConnectionOptions;
  readonly scheduler: SchedulerLike; // listen retries and the listen_error repeat window
  readonly reports: SchedulerLike; // refusal reports
  readonly admission: Admission;
  readonly gate: Gate;
  readonly directories: SocketDirectories;
}

/**
 * Where a serve's listener is:
 *   idle ──listen()──▶ binding ──onListening──▶ listening
 *     ▲                   │ ListenError             │ serve$ completes / unsubscribed
 *     └── no retry ◀──────┴──▶ retrying ──timer──▶ binding          ▼
 *                                                                 idle
 * `subscription` is undefined only while listenUnix's subscribe() is still running.
 */
type ListenerState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'binding' | 'listening'; subscription: Subscription | undefined }
  | { readonly kind: 'retrying'; readonly timer: Subscription };

const IDLE: ListenerState = { kind: 'idle' };

/**
 * One serve's socket: listen while `serve$` lasts, read every connection it accepts.
 *
 * Written by hand rather than as take/switchMap/takeUntil/retry/finalize/mergeMap: that chain
 * cost seven operator subscribers and some fifty closures per serve, most of the 12 KB of heap
 * a serve held at 10,000 serves. What it did, it still does:
 * - listens once the first serve is known (so events can name it);
 * - a ListenError is logged (see LISTEN_ERROR_REPEAT_MS) and retried after listenRetryMs, or the
 *   serve stays down when that is 0; any other error is a bug and errors the stream;
 * - when `serve$` completes the listener closes at once (its file removed), the connections drain,
 *   and the result completes after the last one;
 * - unsubscribing closes the listener and destroys every connection.
 */
function serveRecords(serve$: Observable<Serve>, socketPath: string, context: SourceContext): Observable<SourcedChunk> {
  return new Observable<SourcedChunk>((subscriber) => {
    const served = new ServedSocket(serve$, socketPath, context, subscriber);
    return () => served.teardown();
  });
}

class ServedSocket {
  #serve: Serve | undefined; // latest, for the listener's events
  #phase: 'serving' | 'draining' = 'serving'; // draining: serve$ completed, connections are read until they close
  #listener: ListenerState = IDLE;
  // The failure being retried: said when it starts and when its code changes (at once), and
  // while it goes on once per LISTEN_ERROR_REPEAT_MS (throttle.ts), with the attempts so far.
  #failure: { code: string; attempts: number; said: Throttle<ListenErrorEvent> } | undefined;
  readonly #connections = new Set<Subscription>();
  readonly #refusals: RefusalReport;
  readonly #admitted: ServeAdmission;
  readonly #serveSubscription: Subscription;

  constructor(
    private readonly serve$: Observable<Serve>,
    private readonly socketPath: string,
    private readonly context: SourceContext,
    private readonly subscriber: Subscriber<SourcedChunk>,
  ) {
    const { options, admission, reports } = context;
    this.#refusals = new RefusalReport(options.connectionsRefusedReportMs, reports, (reason, refused) =>
      this.#events({
        kind: 'connections_refused',
        level: 'warn',
        ...this.#where(),
        reason,
        refused,
        limit:
          reason === 'max_connections'
            ? options.maxConnectionsPerServe
            : reason === 'unidentified_limit'
              ? options.maxUnidentifiedPerServe
              : admission.descriptors.limit,
      }),
    );
    this.#admitted = admission.serve((reason) => this.#refusals.refused(reason));
    this.#serveSubscription = serve$.subscribe({
      next: (next) => {
        const first = this.#serve === undefined;
        this.#serve = next;
        if (first) this.#listen();
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => {
        this.#phase = 'draining';
        this.#stopListening();
        this.#completeIfDone();
      },
    });
  }

  /** Unsubscribed: the listener closes, every connection is destroyed without draining. */
  teardown(): void {
    this.#serveSubscription.unsubscribe();
    this.#stopListening();
    const open = [...this.#connections];
    this.#connections.clear();
    for (const connection of open) connection.unsubscribe();
  }

  #events(event: SourceEvent): void {
    this.context.connections.events(event);
  }

  #where(): { serve: string | undefined; socket: string } {
    return { serve: this.#serve?.name, socket: this.socketPath };
  }

  #completeIfDone(): void {
    if (this.#phase === 'draining' && this.#listener.kind === 'idle' && this.#connections.size === 0) this.subscriber.complete();
  }

  #listen(): void {
    const { options, connections, admission, gate, directories } = this.context;
    this.#listener = { kind: 'binding', subscription: undefined };
    const subscription = subscribeLive(
      listenUnix(this.socketPath, {
        mode: options.socketMode,
        gid: options.socketGroup,
        backlog: options.listenBacklog,
        gate,
        directories,
        // Node then holds at most one chunk, and reads the socket again only once it is taken.
        readHighWaterMark: connections.ticks === undefined ? undefined : 1,
        onListening: (file) => this.#onListening(file.mode, file.gid),
        onAcceptError: (error) => this.#events({ kind: 'accept_error', level: 'error', ...this.#where(), reason: error.message }),
        descriptors: admission.descriptors,
        admit: (socket) => this.#admitted.admit(socket),
      }),
      { next: (socket) => this.#accept(socket), error: (error: unknown) => this.#onListenError(error) },
    );
    if (subscription === undefined) return; // it failed at once: #onListenError moved on
    const listener = this.#listener;
    if (listener.kind === 'binding' || listener.kind === 'listening') listener.subscription = subscription;
    if (this.subscriber.closed) this.#stopListening(); // torn down meanwhile
  }

  #onListening(mode: number, gid: number): void {
    const subscription = this.#listener.kind === 'binding' ? this.#listener.subscription : undefined;
    this.#listener = { kind: 'listening', subscription };
    this.#forgetFailure();
    // What the file has, not what was asked: the two differ only if something is wrong.
    this.#events({ kind: 'listening', level: 'info', ...this.#where(), mode: (mode & 0o7777).toString(8).padStart(4, '0'), group: gid });
  }

  /** The listener is gone: what the refusals counted is said, then `stopped_listening` if it listened. */
  #listenerEnded(): void {
    const was = this.#listener.kind;
    this.#listener = IDLE;
    this.#refusals.close(); // what it counted is said now, before stopped_listening
    if (was === 'listening') this.#events({ kind: 'stopped_listening', level: 'info', ...this.#where() });
  }

  #stopListening(): void {
    this.#forgetFailure();
    const listener = this.#listener;
    if (listener.kind === 'retrying') {
      listener.timer.unsubscribe();
      this.#listener = IDLE;
    } else if (listener.kind !== 'idle' && listener.subscription !== undefined) {
      listener.subscription.unsubscribe(); // closes the listener and removes the file
      this.#listenerEnded();
    }
  }

  #forgetFailure(): void {
    this.#failure?.said.dispose();
    this.#failure = undefined;
  }

  #onListenError(error: unknown): void {
    this.#listenerEnded();
    if (!(error instanceof ListenError)) return this.subscriber.error(error); // a bug, not the path
    const { options, scheduler } = this.context;
    const retryIn = options.listenRetryMs > 0 ? options.listenRetryMs : undefined;
    this.#sayFailure(error, retryIn);
    // Staying down leaves the other serves untouched.
    if (retryIn === undefined || this.#phase === 'draining') return this.#completeIfDone();
    this.#listener = {
      kind: 'retrying',
      timer: scheduler.schedule(() => {
        this.#listener = IDLE;
        this.#listen();
      }, retryIn),
    };
  }

  #sayFailure(error: ListenError, retryIn: number | undefined): void {
    const attempts = (this.#failure?.attempts ?? 0) + 1;
    if (this.#failure?.code !== error.code) {
      this.#failure?.said.dispose(); // what the old cause held back is no longer news
      // Our own serve holding the socket is said once: it is a serve-db mistake, not an outage.
      const once = error.code === 'LISTEN_OWN_SERVE';
      const say = ({ value, held }: Throttled<ListenErrorEvent>): void => {
        if (held === 0 || !once) this.#events(value);
      };
      this.#failure = { code: error.code, attempts, said: new Throttle(LISTEN_ERROR_REPEAT_MS, this.context.scheduler, say) };
    }
    this.#failure.attempts = attempts;
    this.#failure.said.offer({ kind: 'listen_error', level: 'error', ...this.#where(), code: error.code, reason: error.message, retry_in_ms: retryIn, attempts });
  }

  #accept(socket: Socket): void {
    let connection: Subscription | undefined;
    connection = subscribeLive(readConnection(socket, this.serve$, this.context.connections, () => this.#admitted.identified(socket)), {
      next: (record) => this.subscriber.next(record),
      error: (err: unknown) => this.subscriber.error(err),
      complete: () => {
        if (connection !== undefined) this.#connections.delete(connection);
        this.#completeIfDone();
      },
    });
    if (connection !== undefined && !this.subscriber.closed) this.#connections.add(connection);
  }
}
