// The source stage: from the serve sets the serve database accepts, to every record PostgreSQL
// sends on any serve's socket, tagged with that serve.
import {
  EMPTY,
  Observable,
  ReplaySubject,
  connect,
  endWith,
  finalize,
  ignoreElements,
  mergeMap,
  retry,
  switchMap,
  take,
  takeUntil,
  tap,
  throwError,
  timer,
} from '../rx';
import { ignoreEvents, type EventSink } from '../events';
import { Budget } from '../budget';
import type { Serve, ServeSet } from '../servedb/serve';
import { readConnection, type ConnectionOptions } from './connection';
import type { SourceEvent } from './events';
import { ListenError, listenUnix } from './listenUnix';
import { resolveSourceOptions, type SourceOptions } from './options';
import { rebindOnServeSet } from './rebindOnServeSet';
import { RefusalReport } from './refusals';
import type { SourcedRecord } from './sourcedRecord';

export type SocketSourceOptions = Partial<SourceOptions> & {
  readonly events?: EventSink<SourceEvent>; // where listen/connect/disconnect/... are reported
};

/**
 * Listens on every serve's socket and emits the records of every connection that identified as
 * that serve, tagged with the serve as it is when the record is read (a token change applies to
 * the next record, on the same connection), `receivedAt = Date.now()` at the read.
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
export function socketSource(serveSet$: Observable<ServeSet>, options: SocketSourceOptions = {}): Observable<SourcedRecord> {
  const resolved = resolveSourceOptions(options);
  const events = options.events ?? ignoreEvents;
  // One budget for every connection of every serve: a bound on the daemon, not per tenant.
  const connectionOptions: ConnectionOptions = { ...resolved, events, partials: new Budget(resolved.maxPartialBytes) };
  // Descriptors for listeners and connections: what the open-file limit leaves past the reserve.
  const descriptors = new Budget((resolved.openFileLimit ?? Infinity) - resolved.reservedFileDescriptors);
  return serveSet$.pipe(
    rebindOnServeSet((serve$, socketPath) => serveRecords(serve$, socketPath, resolved, connectionOptions, descriptors)),
  );
}

/**
 * How often a listen failure that goes on (a missing directory, say) is logged again: a line every
 * retry (10 s) would bury the rest of the log, and silence would hide that it is still broken.
 */
export const LISTEN_ERROR_REPEAT_MS = 10 * 60_000;

/** One serve's socket: listen while `serve$` lasts, read every connection it accepts. */
function serveRecords(
  serve$: Observable<Serve>,
  socketPath: string,
  options: SourceOptions,
  connectionOptions: ConnectionOptions,
  descriptors: Budget,
): Observable<SourcedRecord> {
  const { events } = connectionOptions;
  let serve: Serve | undefined; // latest, for the listener's events
  const where = () => ({ serve: serve?.name, socket: socketPath });
  const refusals = new RefusalReport(options.connectionsRefusedReportMs, (reason, refused) =>
    events({
      kind: 'connections_refused',
      level: 'warn',
      ...where(),
      reason,
      refused,
      limit: reason === 'max_connections' ? options.maxConnectionsPerServe : descriptors.limit,
    }),
  );

  let listening = false;
  // The failure being retried: logged when it starts, when its code changes, and now and then.
  let failure: { code: string; attempts: number; loggedAt: number } | undefined;
  const listener$ = listenUnix(socketPath, {
    mode: options.socketMode,
    backlog: options.listenBacklog,
    onListening: () => {
      listening = true;
      failure = undefined;
      events({ kind: 'listening', level: 'info', ...where(), mode: options.socketMode.toString(8).padStart(4, '0') });
    },
    onAcceptError: (error) => events({ kind: 'accept_error', level: 'error', ...where(), reason: error.message }),
    maxConnections: options.maxConnectionsPerServe,
    descriptors,
    onRefused: (reason) => refusals.refused(reason),
  }).pipe(
    finalize(() => {
      refusals.close();
      if (listening) events({ kind: 'stopped_listening', level: 'info', ...where() });
      listening = false;
    }),
    retry({
      delay: (error: unknown) => {
        if (!(error instanceof ListenError)) return throwError(() => error); // a bug, not the path
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
        // Staying down (EMPTY completes the listener) leaves the other serves untouched.
        return retryIn === undefined ? EMPTY : timer(retryIn);
      },
    }),
  );

  return serve$.pipe(
    tap((next) => (serve = next)),
    // One multicast of serve$ for the listener and every connection; the replay hands each
    // newly accepted connection the current serve.
    connect(
      (current$) => {
        const stopped$ = current$.pipe(ignoreElements(), endWith(true));
        return current$.pipe(
          take(1), // listen once the first serve is known, so events can name it
          switchMap(() => listener$),
          takeUntil(stopped$), // closes the listener and removes the file the moment the serve stops
          mergeMap((socket) => readConnection(socket, current$, connectionOptions)),
        );
      },
      { connector: () => new ReplaySubject<Serve>(1) },
    ),
  );
}
