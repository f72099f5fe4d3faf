// Every tunable of the socket source, with its default, in one place.
import { OptionsError } from '../errors';
import { resolveProtocolOptions } from '../protocol/options';
import { readOpenFileLimit } from './fileLimit';

export interface SourceOptions {
  /**
   * Passed to the decoder: the largest message a connection may send (length field, i.e. payload
   * + 4). A bigger one closes that connection with a `protocol_error`; PostgreSQL reconnects.
   */
  readonly maxMessageBytes: number;
  /**
   * Mode of each listening socket file, set before anyone it keeps out could connect (socketBind.ts).
   * connect() on a unix socket needs write permission on its file, nothing else. The default
   * 0777 is PostgreSQL's own default for its sockets (unix_socket_permissions) and what this
   * collector always used: PostgreSQL usually runs as another user than the collector, and the
   * identity check, not the file mode, keeps tenants apart. Lock it down with a group both users
   * share: socketMode 0o660 (or 0o770) and socketGroup.
   */
  readonly socketMode: number;
  /**
   * Group id of each socket file (chown, before the file appears at its path); undefined leaves
   * the collector's own group. The collector's user must belong to it (or be root).
   */
  readonly socketGroup: number | undefined;
  /**
   * When a serve stops (removed from the serve set, or the serve set completed for shutdown) its
   * open connections keep being read until none of them sent anything for this long, so that
   * records PostgreSQL already handed to the kernel are forwarded rather than reset away.
   */
  readonly drainIdleMs: number;
  /**
   * Upper bound on that drain: a backend that logs continuously never goes idle, and must not
   * hold a reload or shutdown hostage. After this, the connection is closed regardless.
   */
  readonly drainTimeoutMs: number;
  /**
   * A serve whose socket could not be created (missing directory, regular file in the way, a
   * live listener) tries again after this long, so fixing the path on disk is enough to bring it
   * up. 0 disables retrying: the serve then stays down until it is removed and re-added.
   */
  readonly listenRetryMs: number;
  /**
   * Pending-connection queue of each listener. A unix socket refuses (EAGAIN) rather than
   * retries when it is full, and a PostgreSQL restart opens hundreds of connections at once;
   * the kernel caps this at net.core.somaxconn.
   */
  readonly listenBacklog: number;
  /**
   * Bytes that all connections' unfinished messages may hold together. A header announcing a
   * 1 MiB record makes its connection buffer until the last byte; 200 connections each sending V,
   * I and most of such a record took the daemon from 56 to 266 MB RSS. A connection whose next
   * read would pass this bound is closed with a `protocol_error` (LOGFEBE_PARTIAL_LIMIT);
   * PostgreSQL reconnects. 64 MiB is 64 records at the 1 MiB cap in flight at once, far more
   * than real servers (a record is written with one send(), so it is unfinished only while the
   * kernel's socket buffer holds its start). Never below one record at the cap.
   */
  readonly maxPartialBytes: number;
  /**
   * A connection that has not sent both V and I this long after it was accepted is closed with a
   * `protocol_error` (LOGFEBE_HANDSHAKE_TIMEOUT). pg_logfebe sends both at once when it connects;
   * without a bound, a peer sending one byte a second held its connection, descriptor and buffer
   * forever.
   */
  readonly handshakeTimeoutMs: number;
  /**
   * Connections one serve may have open. PostgreSQL opens one per backend (max_connections is 100
   * by default, rarely above a few thousand with a pooler in front); a new one past the cap is
   * closed at once and counted, in one `connections_refused` line per serve and reason per
   * `connectionsRefusedReportMs`. Without a cap, 2,000 idle connections on one serve took every
   * descriptor: other serves' new connections were dropped silently and the serve database could
   * not be read.
   */
  readonly maxConnectionsPerServe: number;
  /**
   * Connections one serve may hold that have not sent V and I yet. Anyone who may connect to the
   * socket can open connections that never identify; a newer one closes the oldest of them, and
   * a serve at `maxConnectionsPerServe` closes its oldest unidentified connection for a newcomer,
   * so they never keep PostgreSQL's backends out (`connections_refused`
   * reason=unidentified_limit / max_connections). pg_logfebe sends V and I with its connect, so a
   * real backend is unidentified only until its first read: the cap leaves room for a burst of
   * backends connecting at once (a PostgreSQL restart) accepted before any of them is read.
   */
  readonly maxUnidentifiedPerServe: number;
  /**
   * The process's open-file limit. Undefined: read from /proc/self/limits (the soft limit, which
   * Node raises to the hard one at start), unbounded where the system does not say. Resolved
   * options hold the value read.
   */
  readonly openFileLimit: number | undefined;
  /**
   * Descriptors listeners and PostgreSQL connections leave free, for what else needs them: posts
   * to logplex (up to `concurrency` per serve at once, pooled per origin), the serve database's
   * reads, writes and watcher, stdio, Node's own. When a new connection would take one of these,
   * the serve holding the most connections gives one up to a serve holding at least two fewer
   * (its oldest unidentified, else its oldest), so a serve holding none always gets one;
   * otherwise the newcomer (or the serve's own oldest unidentified) is closed
   * (`connections_refused` reason=open_file_limit). A listener that would take one fails with
   * LISTEN_FILE_LIMIT and is retried.
   */
  readonly reservedFileDescriptors: number;
  /** How often a serve that keeps refusing connections says so, per reason (the first refusal of each is logged at once). */
  readonly connectionsRefusedReportMs: number;
  /**
   * Creating sockets is synchronous work (bind() makes an inode): a serve set with thousands of
   * new serves is started in slices of at most this much CPU time (and at most CALLS_PER_SLICE
   * sockets or apply steps, sliceGate.ts), with the event loop given back between them so that
   * every open connection keeps being read. 10,000 serves in one go held the loop 2–11 s
   * (bench/serveSet.ts). 0 starts them all at once.
   */
  readonly listenSliceMs: number;
  /**
   * Each connection is read at most once per this many milliseconds (`--read-interval`), so a
   * busy backend's records arrive many to a read and the collector sleeps between reads instead
   * of waking for every send(); a connection whose kernel queue is filling is read as soon as it
   * is readable until it is not (connection.ts), so no backend waits for the tick. Against real
   * PostgreSQL with pgbench on 2 cores, reading as data arrives cost the server more than the
   * collector's whole pipeline. Records wait at most two ticks more, far below the flush interval.
   * 0 reads every chunk as it arrives.
   */
  readonly readIntervalMs: number;
}

export const DEFAULT_SOURCE_OPTIONS: SourceOptions = {
  maxMessageBytes: 1024 * 1024, // the reference collector's cap; see ProtocolOptions
  socketMode: 0o777,
  socketGroup: undefined,
  drainIdleMs: 50, // a loaded backend refills its socket within microseconds; 50 ms idle is "done"
  drainTimeoutMs: 2_000,
  listenRetryMs: 10_000, // the reference collector's serve-db poll interval
  listenBacklog: 4096, // node's default is 511
  maxPartialBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  maxConnectionsPerServe: 1000,
  maxUnidentifiedPerServe: 128,
  openFileLimit: undefined,
  reservedFileDescriptors: 256,
  connectionsRefusedReportMs: 10_000,
  listenSliceMs: 5,
  readIntervalMs: 10,
};

/** The longest `readIntervalMs` accepted. */
export const MAX_READ_INTERVAL_MS = 1_000;

// Below this many descriptors for listeners and connections, the collector could not do its job:
// a configuration mistake (a low `ulimit -n`, a large reserve) to report at start.
const MIN_SOCKET_DESCRIPTORS = 16;

/** Defaults filled in; a nonsensical value is a programming error, so it throws here. */
export function resolveSourceOptions(options: Partial<SourceOptions> = {}): SourceOptions {
  const maxMessageBytes = resolveProtocolOptions({ maxMessageBytes: options.maxMessageBytes }).maxMessageBytes;
  const resolved: SourceOptions = {
    maxMessageBytes,
    socketMode: options.socketMode ?? DEFAULT_SOURCE_OPTIONS.socketMode,
    socketGroup: options.socketGroup ?? DEFAULT_SOURCE_OPTIONS.socketGroup,
    drainIdleMs: options.drainIdleMs ?? DEFAULT_SOURCE_OPTIONS.drainIdleMs,
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_SOURCE_OPTIONS.drainTimeoutMs,
    listenRetryMs: options.listenRetryMs ?? DEFAULT_SOURCE_OPTIONS.listenRetryMs,
    listenBacklog: options.listenBacklog ?? DEFAULT_SOURCE_OPTIONS.listenBacklog,
    // A record cap raised past the default bound raises the bound with it: one record must fit.
    maxPartialBytes: options.maxPartialBytes ?? Math.max(DEFAULT_SOURCE_OPTIONS.maxPartialBytes, maxMessageBytes + 1),
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_SOURCE_OPTIONS.handshakeTimeoutMs,
    maxConnectionsPerServe: options.maxConnectionsPerServe ?? DEFAULT_SOURCE_OPTIONS.maxConnectionsPerServe,
    maxUnidentifiedPerServe: options.maxUnidentifiedPerServe ?? DEFAULT_SOURCE_OPTIONS.maxUnidentifiedPerServe,
    openFileLimit: options.openFileLimit ?? DEFAULT_SOURCE_OPTIONS.openFileLimit ?? readOpenFileLimit()?.soft,
    reservedFileDescriptors: options.reservedFileDescriptors ?? DEFAULT_SOURCE_OPTIONS.reservedFileDescriptors,
    connectionsRefusedReportMs: options.connectionsRefusedReportMs ?? DEFAULT_SOURCE_OPTIONS.connectionsRefusedReportMs,
    listenSliceMs: options.listenSliceMs ?? DEFAULT_SOURCE_OPTIONS.listenSliceMs,
    readIntervalMs: options.readIntervalMs ?? DEFAULT_SOURCE_OPTIONS.readIntervalMs,
  };
  if (!Number.isInteger(resolved.socketMode) || resolved.socketMode < 0 || resolved.socketMode > 0o7777) {
    throw new OptionsError(`socketMode must be a file mode from 0 to 0o7777, got ${resolved.socketMode}`);
  }
  if (resolved.socketGroup !== undefined && (!Number.isInteger(resolved.socketGroup) || resolved.socketGroup < 0 || resolved.socketGroup > 0xfffffffe)) {
    throw new OptionsError(`socketGroup must be a group id, got ${resolved.socketGroup}`);
  }
  if (!Number.isInteger(resolved.listenBacklog) || resolved.listenBacklog < 1) {
    throw new OptionsError(`listenBacklog must be a positive integer, got ${resolved.listenBacklog}`);
  }
  // A frame is its length field plus the type byte: one at the record cap must be able to wait.
  if (!Number.isSafeInteger(resolved.maxPartialBytes) || resolved.maxPartialBytes < maxMessageBytes + 1) {
    throw new OptionsError(
      `maxPartialBytes (--partial-cap) must hold at least one record at the record cap (${maxMessageBytes + 1} bytes), got ${resolved.maxPartialBytes}`,
    );
  }
  if (!Number.isFinite(resolved.handshakeTimeoutMs) || resolved.handshakeTimeoutMs <= 0) {
    throw new OptionsError(`handshakeTimeoutMs must be a number of milliseconds > 0, got ${resolved.handshakeTimeoutMs}`);
  }
  for (const key of ['maxConnectionsPerServe', 'maxUnidentifiedPerServe', 'reservedFileDescriptors'] as const) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < (key === 'reservedFileDescriptors' ? 0 : 1)) {
      throw new OptionsError(`${key} must be a whole number${key === 'reservedFileDescriptors' ? ' >= 0' : ' >= 1'}, got ${value}`);
    }
  }
  const fileLimit = resolved.openFileLimit ?? Infinity;
  if (fileLimit - resolved.reservedFileDescriptors < MIN_SOCKET_DESCRIPTORS) {
    throw new OptionsError(
      `the open-file limit (${fileLimit}) leaves fewer than ${MIN_SOCKET_DESCRIPTORS} descriptors for sockets once ` +
        `${resolved.reservedFileDescriptors} are reserved: raise it (ulimit -n) or lower the reserve (reservedFileDescriptors, --fd-reserve)`,
    );
  }
  if (!Number.isFinite(resolved.connectionsRefusedReportMs) || resolved.connectionsRefusedReportMs <= 0) {
    throw new OptionsError(`connectionsRefusedReportMs must be a number of milliseconds > 0, got ${resolved.connectionsRefusedReportMs}`);
  }
  // Past a second, records would sit in the kernel longer than a flush: surely a unit mistake.
  if (!Number.isFinite(resolved.readIntervalMs) || resolved.readIntervalMs < 0 || resolved.readIntervalMs > MAX_READ_INTERVAL_MS) {
    throw new RangeError(`readIntervalMs (--read-interval) must be a number of milliseconds from 0 to ${MAX_READ_INTERVAL_MS}, got ${resolved.readIntervalMs}`);
  }
  for (const key of ['drainIdleMs', 'drainTimeoutMs', 'listenRetryMs', 'listenSliceMs'] as const) {
    const value = resolved[key];
    if (!Number.isFinite(value) || value < 0) throw new OptionsError(`${key} must be a number of milliseconds >= 0, got ${value}`);
  }
  return resolved;
}
