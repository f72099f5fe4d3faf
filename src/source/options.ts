// Every tunable of the socket source, with its default, in one place.
import { resolveProtocolOptions } from '../protocol/options';

export interface SourceOptions {
  /**
   * Passed to the decoder: the largest message a connection may send (length field, i.e. payload
   * + 4). A bigger one closes that connection with a `protocol_error`; PostgreSQL reconnects.
   */
  readonly maxMessageBytes: number;
  /**
   * Mode of each listening socket file, set before the file appears at its path (privateBind.ts).
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
}

export const DEFAULT_SOURCE_OPTIONS: SourceOptions = {
  maxMessageBytes: 1024 * 1024, // the reference collector's cap; see ProtocolOptions
  socketMode: 0o777,
  socketGroup: undefined,
  drainIdleMs: 50, // a loaded backend refills its socket within microseconds; 50 ms idle is "done"
  drainTimeoutMs: 2_000,
  listenRetryMs: 10_000, // the reference collector's serve-db poll interval
  listenBacklog: 4096, // node's default is 511
};

/** Defaults filled in; a nonsensical value is a programming error, so it throws here. */
export function resolveSourceOptions(options: Partial<SourceOptions> = {}): SourceOptions {
  const resolved: SourceOptions = {
    maxMessageBytes: resolveProtocolOptions({ maxMessageBytes: options.maxMessageBytes }).maxMessageBytes,
    socketMode: options.socketMode ?? DEFAULT_SOURCE_OPTIONS.socketMode,
    socketGroup: options.socketGroup ?? DEFAULT_SOURCE_OPTIONS.socketGroup,
    drainIdleMs: options.drainIdleMs ?? DEFAULT_SOURCE_OPTIONS.drainIdleMs,
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_SOURCE_OPTIONS.drainTimeoutMs,
    listenRetryMs: options.listenRetryMs ?? DEFAULT_SOURCE_OPTIONS.listenRetryMs,
    listenBacklog: options.listenBacklog ?? DEFAULT_SOURCE_OPTIONS.listenBacklog,
  };
  if (!Number.isInteger(resolved.socketMode) || resolved.socketMode < 0 || resolved.socketMode > 0o7777) {
    throw new RangeError(`socketMode must be a file mode from 0 to 0o7777, got ${resolved.socketMode}`);
  }
  if (resolved.socketGroup !== undefined && (!Number.isInteger(resolved.socketGroup) || resolved.socketGroup < 0 || resolved.socketGroup > 0xfffffffe)) {
    throw new RangeError(`socketGroup must be a group id, got ${resolved.socketGroup}`);
  }
  if (!Number.isInteger(resolved.listenBacklog) || resolved.listenBacklog < 1) {
    throw new RangeError(`listenBacklog must be a positive integer, got ${resolved.listenBacklog}`);
  }
  for (const key of ['drainIdleMs', 'drainTimeoutMs', 'listenRetryMs'] as const) {
    const value = resolved[key];
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${key} must be a number of milliseconds >= 0, got ${value}`);
  }
  return resolved;
}
