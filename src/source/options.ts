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
   * Creating sockets is synchronous work (bind() makes an inode): a serve set with thousands of
   * new serves is started in slices of at most this long, with the event loop given back between
   * them so that every open connection keeps being read. 10,000 serves in one go held the loop
   * 2–11 s; in 5 ms slices no tenant's backend blocked in send() for more than a few ms
   * (bench/serveSet.ts). 0 starts them all at once.
   */
  readonly listenSliceMs: number;
}

export const DEFAULT_SOURCE_OPTIONS: SourceOptions = {
  maxMessageBytes: 1024 * 1024, // the reference collector's cap; see ProtocolOptions
  socketMode: 0o777,
  drainIdleMs: 50, // a loaded backend refills its socket within microseconds; 50 ms idle is "done"
  drainTimeoutMs: 2_000,
  listenRetryMs: 10_000, // the reference collector's serve-db poll interval
  listenBacklog: 4096, // node's default is 511
  listenSliceMs: 5,
};

/** Defaults filled in; a nonsensical value is a programming error, so it throws here. */
export function resolveSourceOptions(options: Partial<SourceOptions> = {}): SourceOptions {
  const resolved: SourceOptions = {
    maxMessageBytes: resolveProtocolOptions({ maxMessageBytes: options.maxMessageBytes }).maxMessageBytes,
    socketMode: options.socketMode ?? DEFAULT_SOURCE_OPTIONS.socketMode,
    drainIdleMs: options.drainIdleMs ?? DEFAULT_SOURCE_OPTIONS.drainIdleMs,
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_SOURCE_OPTIONS.drainTimeoutMs,
    listenRetryMs: options.listenRetryMs ?? DEFAULT_SOURCE_OPTIONS.listenRetryMs,
    listenBacklog: options.listenBacklog ?? DEFAULT_SOURCE_OPTIONS.listenBacklog,
    listenSliceMs: options.listenSliceMs ?? DEFAULT_SOURCE_OPTIONS.listenSliceMs,
  };
  if (!Number.isInteger(resolved.socketMode) || resolved.socketMode < 0 || resolved.socketMode > 0o7777) {
    throw new RangeError(`socketMode must be a file mode from 0 to 0o7777, got ${resolved.socketMode}`);
  }
  if (!Number.isInteger(resolved.listenBacklog) || resolved.listenBacklog < 1) {
    throw new RangeError(`listenBacklog must be a positive integer, got ${resolved.listenBacklog}`);
  }
  for (const key of ['drainIdleMs', 'drainTimeoutMs', 'listenRetryMs', 'listenSliceMs'] as const) {
    const value = resolved[key];
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${key} must be a number of milliseconds >= 0, got ${value}`);
  }
  return resolved;
}
