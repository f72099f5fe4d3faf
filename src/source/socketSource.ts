// The source stage: from the serve sets the serve database accepts, to every record PostgreSQL
// sends on any serve's socket, tagged with that serve.
import type { Socket } from 'node:net';
import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from '../rx';
import { Budget } from '../budget';
import { Admission } from './admission';
import { ignoreEvents, type EventSink } from '../events';
import type { Serve, ServeSet } from '../servedb/serve';
import { readConnection, type ConnectionOptions } from './connection';
import type { SourceEvent } from './events';
import { immediateGate, sliceGate, type Gate } from './sliceGate';
import { ListenError, listenUnix } from './listenUnix';
import { resolveSourceOptions, type SourceOptions } from './options';
import { ReadTicks } from './readTicks';
import { rebindOnServeSet } from './rebindOnServeSet';
import { SocketDirectories } from './socketDirectory';
import { RefusalReport } from './refusals';
import type { SourcedChunk } from './sourcedRecord';

export type SocketSourceOptions = Partial<SourceOptions> & {
  readonly events?: EventSink<SourceEvent>; // where listen/connect/disconnect/... are reported
  readonly scheduler?: SchedulerLike; // read ticks, handshake and drain timers; asyncScheduler when absent
};

/**
 * Listens on every serve's socket and emits the records of every connection that identified as
 * that serve, one chunk per read (readConnection), tagged with the serve as it is at the read (a
 * token change applies from the next read, on the same connection), `receivedAt` the read's time.
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
  // One budget for every connection of every serve: a bound on the daemon, not per tenant.
  const scheduler = options.scheduler ?? asyncScheduler;
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
    return serveSet$
      .pipe(
        rebindOnServeSet((serve$, socketPath) => serveRecords(serve$, socketPath, resolved, connections, admission, gate, directories), gate),
      )
      .subscribe(subscriber);
  });
}

/**
 * How often a listen failure that goes on (a missing directory, say) is logged again: a line every
 * retry (10 s) would bury the rest of the log, and silence would hide that it is still broken.
 */
export const LISTEN_ERROR_REPEAT_MS = 10 * 60_000;

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
function serveRecords(
  serve$: Observable<Serve>,
  socketPath: string,
  options: SourceOptions,
  connectionOptions: ConnectionOptions,
  admission: Admission,
  gate: Gate,
  directories: SocketDirectories,
): Observable<SourcedChunk> {
  const { events } = connectionOptions;
  return new Observable<SourcedChunk>((subscriber) => {
    let serve: Serve | undefined; // latest, for the listener's events
    const where = () => ({ serve: serve?.name, socket: socketPath });
    const refusals = new RefusalReport(options.connectionsRefusedReportMs, (reason, refused) =>
      events({
        kind: 'connections_refused',
        level: 'warn',
        ...where(),
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
    const admitted = admission.serve((reason) => refusals.refused(reason));
    let listening = false;
    // The failure being retried: logged when it starts, when its code changes, and now and then.
    let failure: { code: string; attempts: number; loggedAt: number } | undefined;
    let listener: Subscription | undefined; // while the socket is up or being created
    let retryTimer: NodeJS.Timeout | undefined; // while waiting to try again
    let stopped = false; // serve$ completed: no more listening, connections drain
    const connections = new Set<Subscription>();

    const completeIfDone = (): void => {
      if (stopped && listener === undefined && retryTimer === undefined && connections.size === 0) subscriber.complete();
    };

    const listenerEnded = (): void => {
      listener = undefined;
      refusals.close(); // what it counted is said now, before stopped_listening
      if (listening) events({ kind: 'stopped_listening', level: 'info', ...where() });
      listening = false;
    };

    const stopListening = (): void => {
      clearTimeout(retryTimer);
      retryTimer = undefined;
      const running = listener;
      listener = undefined;
      running?.unsubscribe(); // closes the listener and removes the file
      if (running !== undefined) listenerEnded();
    };

    const onListenError = (error: unknown): void => {
      listenerEnded();
      if (!(error instanceof ListenError)) return subscriber.error(error); // a bug, not the path
      const retryIn = options.listenRetryMs > 0 ? options.listenRetryMs : undefined;
      const now = Date.now();
      const attempts = (failure?.attempts ?? 0) + 1;
      // Our own serve holding the socket is said once: it is a serve-db mistake, not an outage.
      const repeat = error.code !== 'LISTEN_OWN_SERVE' && failure !== undefined && now - failure.loggedAt >= LISTEN_ERROR_REPEAT_MS;
      if (failure === undefined || failure.code !== error.code || repeat) {
        events({ kind: 'listen_error', level: 'error', ...where(), code: error.code, reason: error.message, retry_in_ms: retryIn, attempts });
        failure = { code: error.code, attempts, loggedAt: now };
      } else {
        failure.attempts = attempts;
      }
      // Staying down leaves the other serves untouched.
      if (retryIn === undefined || stopped) return completeIfDone();
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        listen();
      }, retryIn);
    };

    const accept = (socket: Socket): void => {
      let connection: Subscription | undefined;
      let ended = false; // completed during subscribe()
      connection = readConnection(socket, serve$, connectionOptions, () => admitted.identified(socket)).subscribe({
        next: (record) => subscriber.next(record),
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          ended = true;
          if (connection !== undefined) connections.delete(connection);
          completeIfDone();
        },
      });
      if (!ended && !subscriber.closed) connections.add(connection);
    };

    const listen = (): void => {
      let failed = false; // failed during subscribe()
      const subscription = listenUnix(socketPath, {
        mode: options.socketMode,
        gid: options.socketGroup,
        backlog: options.listenBacklog,
        gate,
        directories,
        // Node then holds at most one chunk, and reads the socket again only once it is taken.
        readHighWaterMark: connectionOptions.ticks === undefined ? undefined : 1,
        onListening: (file) => {
          listening = true;
          failure = undefined;
          // What the file has, not what was asked: the two differ only if something is wrong.
          events({ kind: 'listening', level: 'info', ...where(), mode: (file.mode & 0o7777).toString(8).padStart(4, '0'), group: file.gid });
        },
        onAcceptError: (error) => events({ kind: 'accept_error', level: 'error', ...where(), reason: error.message }),
        descriptors: admission.descriptors,
        admit: (socket) => admitted.admit(socket),
      }).subscribe({
        next: accept,
        error: (error: unknown) => {
          failed = true;
          onListenError(error);
        },
      });
      if (!failed && !subscriber.closed) listener = subscription;
    };

    const serveSubscription = serve$.subscribe({
      next: (next) => {
        const first = serve === undefined;
        serve = next;
        if (first) listen();
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => {
        stopped = true;
        stopListening();
        completeIfDone();
      },
    });

    return () => {
      serveSubscription.unsubscribe();
      stopListening();
      const open = [...connections];
      connections.clear();
      for (const connection of open) connection.unsubscribe(); // destroyed without draining
    };
  });
}
