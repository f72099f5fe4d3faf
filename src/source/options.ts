// Every tunable of the socket source, with its default, in one place.
import { resolveProtocolOptions } from '../protocol/options';

export interface SourceOptions {
  /**
   * Passed to the decoder: the largest message a connection may send (length field, i.e. payload
   * + 4). A bigger one closes that connection with a `protocol_error`; PostgreSQL reconnects.
   */
  readonly maxMessageBytes: number;
  /**
   * Mode of each listening socket file. World-writable because PostgreSQL usually runs as
   * another user than the collector; the identity check, not the file mode, keeps tenants apart.
   */
  readonly socketMode: number;
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
}

export const DEFAULT_SOURCE_OPTIONS: SourceOptions = {
  maxMessageBytes: 1024 * 1024, // the reference collector's cap; see ProtocolOptions
  socketMode: 0o777,
  drainIdleMs: 50, // a loaded backend refills its socket within microseconds; 50 ms idle is "done"
  drainTimeoutMs: 2_000,
  listenRetryMs: 10_000, // the reference collector's serve-db poll interval
  listenBacklog: 4096, // node's default is 511
  maxPartialBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
};

/** Defaults filled in; a nonsensical value is a programming error, so it throws here. */
export function resolveSourceOptions(options: Partial<SourceOptions> = {}): SourceOptions {
  const maxMessageBytes = resolveProtocolOptions({ maxMessageBytes: options.maxMessageBytes }).maxMessageBytes;
  const resolved: SourceOptions = {
    maxMessageBytes,
    socketMode: options.socketMode ?? DEFAULT_SOURCE_OPTIONS.socketMode,
    drainIdleMs: options.drainIdleMs ?? DEFAULT_SOURCE_OPTIONS.drainIdleMs,
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_SOURCE_OPTIONS.drainTimeoutMs,
    listenRetryMs: options.listenRetryMs ?? DEFAULT_SOURCE_OPTIONS.listenRetryMs,
    listenBacklog: options.listenBacklog ?? DEFAULT_SOURCE_OPTIONS.listenBacklog,
    // A record cap raised past the default bound raises the bound with it: one record must fit.
    maxPartialBytes: options.maxPartialBytes ?? Math.max(DEFAULT_SOURCE_OPTIONS.maxPartialBytes, maxMessageBytes + 1),
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_SOURCE_OPTIONS.handshakeTimeoutMs,
  };
  if (!Number.isInteger(resolved.socketMode) || resolved.socketMode < 0 || resolved.socketMode > 0o7777) {
    throw new RangeError(`socketMode must be a file mode from 0 to 0o7777, got ${resolved.socketMode}`);
  }
  if (!Number.isInteger(resolved.listenBacklog) || resolved.listenBacklog < 1) {
    throw new RangeError(`listenBacklog must be a positive integer, got ${resolved.listenBacklog}`);
  }
  // A frame is its length field plus the type byte: one at the record cap must be able to wait.
  if (!Number.isSafeInteger(resolved.maxPartialBytes) || resolved.maxPartialBytes < maxMessageBytes + 1) {
    throw new RangeError(
      `maxPartialBytes must be an integer of at least one record at the cap (${maxMessageBytes + 1}), got ${resolved.maxPartialBytes}`,
    );
  }
  if (!Number.isFinite(resolved.handshakeTimeoutMs) || resolved.handshakeTimeoutMs <= 0) {
    throw new RangeError(`handshakeTimeoutMs must be a number of milliseconds > 0, got ${resolved.handshakeTimeoutMs}`);
  }
  for (const key of ['drainIdleMs', 'drainTimeoutMs', 'listenRetryMs'] as const) {
    const value = resolved[key];
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${key} must be a number of milliseconds >= 0, got ${value}`);
  }
  return resolved;
}
