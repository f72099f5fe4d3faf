// One listening unix socket as an Observable of accepted connections. Subscribing creates the
// socket file; unsubscribing closes the listener and removes the file. The connections it
// emitted belong to the subscriber: closing the listener does not touch them.
import { CollectorError, errnoCode } from '../errors';
import { lstatSync, unlinkSync, type Stats } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { Observable } from '../rx';
import type { Budget } from '../budget';
import { socketBind, type SocketBind } from './socketBind';
import { SocketDirectories } from './socketDirectory';
import { immediateGate, type Gate } from './sliceGate';

/** sun_path is 108 bytes on Linux including its NUL; Node silently truncates longer paths. */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

export type ListenErrorCode =
  | 'LISTEN_PATH_TOO_LONG' // longer than MAX_UNIX_SOCKET_PATH_BYTES
  | 'LISTEN_NOT_A_SOCKET' // something other than a socket is at the path: never deleted by us
  | 'LISTEN_IN_USE' // a live process listens on the path
  | 'LISTEN_OWN_SERVE' // this process listens there already, for a serve with another path to the same socket
  | 'LISTEN_FILE_LIMIT' // a listener would take a descriptor kept in reserve (open-file limit)
  | 'LISTEN_NO_DIRECTORY' // the parent directory does not exist
  | 'LISTEN_FAILED'; // anything else (permissions, chmod, chown): the message has the OS error

export class ListenError extends CollectorError {
  override readonly name = 'ListenError';
  readonly code: ListenErrorCode;
  readonly socketPath: string;

  constructor(code: ListenErrorCode, socketPath: string, message: string) {
    super(message);
    this.code = code;
    this.socketPath = socketPath;
  }
}

export interface ListenUnixOptions {
  readonly mode: number; // the socket file's mode, set before it appears at its path
  readonly gid?: number; // the socket file's group, likewise; the process's own when absent
  readonly backlog?: number; // pending-connection queue; node's default (511) when absent
  readonly onListening?: (socket: Stats) => void; // the socket file exists (these are its stats) and accepts connections
  readonly onAcceptError?: (error: Error) => void; // e.g. EMFILE: the listener keeps going
  readonly descriptors?: Budget; // shared by listeners and connections; a listener past it fails
  readonly admit?: (socket: Socket) => boolean; // false: the connection was closed (admission.ts); all are kept when absent
  readonly gate?: Gate; // when to do the synchronous work of creating the socket; at once when absent
  readonly directories?: SocketDirectories; // the source's, shared by its listeners (socketDirectory.ts); a fresh one when absent
  readonly readHighWaterMark?: number; // of each accepted connection; node's default (16 KiB) when absent
}

/** Which file a path held: enough to tell ours from one put there later (a Stats holds 4 Dates). */
interface FileId {
  readonly dev: number;
  readonly ino: number;
}

const idOf = (stats: Stats): FileId => ({ dev: stats.dev, ino: stats.ino });

const reasonOf = (error: unknown): string => {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(error);
};

// The sockets a source listens on are known by place (SocketDirectories.ownSockets): without
// that, a second serve on another path to the same socket probed the first's socket, found it
// live and logged LISTEN_IN_USE "another process" every ten minutes, forever.

/** `dev:ino/name` of the socket at `path`, following symlinks in its directory; undefined if there is no directory. */
function placeOf(path: string, directories: SocketDirectories): string | undefined {
  const directory = directories.directoryStats(dirname(path)); // once per synchronous run (socketDirectory.ts)
  return directory === undefined ? undefined : `${directory.dev}:${directory.ino}/${basename(path)}`;
}

/** The file at `path`, or undefined when there is none. */
function statOrNothing(path: string): Stats | undefined {
  try {
    // Not thrown for ENOENT, the usual answer for a new serve: an exception cost ~5 µs of its stack trace.
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if (errnoCode(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Connects to an existing socket file: a live listener answers, a stale file refuses. */
function probeSocket(path: string, done: (live: boolean, error?: Error) => void): () => void {
  const probe = createConnection(path);
  probe.once('connect', () => {
    probe.destroy();
    done(true);
  });
  probe.once('error', (error) => {
    probe.destroy();
    const code = errnoCode(error);
    if (code === 'ECONNREFUSED' || code === 'ENOENT') done(false);
    else done(false, error);
  });
  return () => probe.destroy();
}

/**
 * Listens on `socketPath`, emitting each accepted connection. Before listening, a stale socket
 * file (a previous run's: nobody answers on it) is removed; anything else in the way is an error,
 * never deleted. Errors (all `ListenError`) happen only before the first connection can arrive;
 * the Observable never completes by itself.
 */
export function listenUnix(socketPath: string, options: ListenUnixOptions): Observable<Socket> {
  const directories = options.directories ?? new SocketDirectories();
  const ownSockets = directories.ownSockets;
  return new Observable<Socket>((subscriber) => {
    let bind: SocketBind | undefined; // where the socket is bound, in place or in a private directory (socketBind.ts)
    // The teardown below runs on error too: it closes the server, then disposes of `bind`.
    const fail = (code: ListenErrorCode, message: string): void =>
      subscriber.error(new ListenError(code, socketPath, `${socketPath}: ${message}`));
    let created: FileId | undefined; // our socket file, so teardown never removes someone else's
    let cancelProbe: (() => void) | undefined;
    let claimed: string | undefined; // our key in ownSockets while we listen (or bind)
    /** Fails and returns true when another of our serves holds this socket (under another path). */
    const heldByOwnServe = (): boolean => {
      const place = placeOf(socketPath, directories);
      const holder = place === undefined ? undefined : ownSockets.get(place);
      if (holder === undefined) return false;
      fail('LISTEN_OWN_SERVE', `this process already listens on this socket, for the serve at ${holder} (the same socket under another path)`);
      return true;
    };

    const descriptors = options.descriptors;
    let heldDescriptors = 0; // the listener's own, and its private directory's when it keeps one
    let withdraw: (() => void) | undefined; // our turn at the gate, while it has not come
    // Made when our turn comes, not at subscribe: 10,000 serves queued at the gate hold no server.
    let serverRef: Server | undefined;

    /** Gives the bound socket its mode and group and puts it at its path: then it is listening. */
    const placeSocket = (placed: SocketBind): void => {
      if (subscriber.closed || created !== undefined) return; // torn down meanwhile, or placed already
      let socketStats: Stats;
      try {
        socketStats = placed.place(socketPath, options.mode, options.gid);
      } catch (error) {
        if (errnoCode(error) === 'EEXIST') fail('LISTEN_IN_USE', 'something appeared at the path while the socket was being created');
        else fail('LISTEN_FAILED', `cannot give the socket its mode and group: ${reasonOf(error)}`);
        return;
      }
      created = idOf(socketStats);
      options.onListening?.(socketStats);
    };

    const createListener = (placed: SocketBind): Server => {
      const server = options.readHighWaterMark === undefined ? createServer() : createServer({ highWaterMark: options.readHighWaterMark });
      serverRef = server;
      // Not server.maxConnections: node would close the newcomer, whoever holds the slots.
      server.on('connection', (socket: Socket) => {
        if (options.admit === undefined || options.admit(socket)) subscriber.next(socket);
      });
      server.on('error', (error) => {
        if (created !== undefined) {
          options.onAcceptError?.(error); // accept() failed for one connection; keep listening
          return;
        }
        const code = errnoCode(error);
        // libuv reports a missing directory on bind() as EACCES, so look before blaming permissions.
        if (code === 'ENOENT' || code === 'ENOTDIR' || !directoryExists(dirname(socketPath), directories)) {
          fail('LISTEN_NO_DIRECTORY', `directory ${dirname(socketPath)} does not exist`);
        } else if (code === 'EADDRINUSE') {
          fail('LISTEN_IN_USE', 'another process created a socket here meanwhile');
        } else {
          fail('LISTEN_FAILED', `cannot listen: ${reasonOf(error)}`);
        }
      });
      server.on('listening', () => placeSocket(placed)); // done already when listen() bound at once
      return server;
    };

    // Bound in place where nobody else can swap the path and nobody could connect before the mode
    // is given who could not after; elsewhere bound in a private directory, given its mode and
    // group there, then linked into place: a path someone else can swap is never chmodded
    // (socketBind.ts).
    const listen = (): void => {
      if (subscriber.closed || heldByOwnServe()) return;
      if (descriptors !== undefined) {
        if (!descriptors.take(1)) {
          return fail(
            'LISTEN_FILE_LIMIT',
            `no descriptor to listen with: listeners and connections hold the ${descriptors.limit} the open-file limit leaves them`,
          );
        }
        heldDescriptors = 1;
      }
      try {
        bind = socketBind(socketPath, options.mode, options.gid, directories);
      } catch (error) {
        const code = errnoCode(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') fail('LISTEN_NO_DIRECTORY', `directory ${dirname(socketPath)} does not exist`);
        else fail('LISTEN_FAILED', `cannot create a private directory beside the socket: ${reasonOf(error)}`);
        return;
      }
      if (descriptors !== undefined && bind.holdsDirectory) {
        if (!descriptors.take(1)) {
          return fail(
            'LISTEN_FILE_LIMIT',
            `no descriptor for the socket's private directory: listeners and connections hold the ${descriptors.limit} the open-file limit leaves them`,
          );
        }
        heldDescriptors += 1;
      }
      claimed = placeOf(socketPath, directories);
      if (claimed !== undefined) ownSockets.set(claimed, socketPath);
      const server = createListener(bind);
      server.listen({ path: bind.bindPath, backlog: options.backlog });
      bind.bound();
      // A unix socket is bound and listening when listen() returns (its 'listening' event only
      // comes in a later tick): placing it now keeps that work inside the gate's slice, where
      // after the tick it ran past the slice's clock and doubled how long each slice held the loop.
      if (server.listening) placeSocket(bind);
    };

    const begin = (): void => {
      withdraw = undefined;
      if (subscriber.closed) return;
      if (Buffer.byteLength(socketPath) > MAX_UNIX_SOCKET_PATH_BYTES) {
        fail(
          'LISTEN_PATH_TOO_LONG',
          `path is ${Buffer.byteLength(socketPath)} bytes, unix sockets allow at most ${MAX_UNIX_SOCKET_PATH_BYTES}`,
        );
        return;
      }
      let existing: Stats | undefined;
      try {
        existing = statOrNothing(socketPath);
      } catch (error) {
        fail('LISTEN_FAILED', `cannot look at the path: ${reasonOf(error)}`);
      }
      if (subscriber.closed || heldByOwnServe()) {
        // failed above; or ours already (probing it would hand our own serve a stray connection)
      } else if (existing === undefined && !directoryExists(dirname(socketPath), directories)) {
        fail('LISTEN_NO_DIRECTORY', `directory ${dirname(socketPath)} does not exist`);
      } else if (existing === undefined) {
        listen();
      } else if (!existing.isSocket()) {
        fail('LISTEN_NOT_A_SOCKET', 'a file that is not a socket is in the way; remove it or choose another path');
      } else {
        const stale = idOf(existing);
        cancelProbe = probeSocket(socketPath, (live, error) => {
          cancelProbe = undefined;
          if (live) return fail('LISTEN_IN_USE', 'another process is listening on this socket');
          if (error !== undefined) return fail('LISTEN_FAILED', `cannot check the existing socket: ${reasonOf(error)}`);
          try {
            removeIfSame(socketPath, stale); // stale: a previous run's
          } catch (unlinkError) {
            return fail('LISTEN_FAILED', `cannot remove the stale socket: ${reasonOf(unlinkError)}`);
          }
          listen();
        });
      }
    };
    withdraw = (options.gate ?? immediateGate)(begin);

    return () => {
      withdraw?.();
      cancelProbe?.();
      if (claimed !== undefined && ownSockets.get(claimed) === socketPath) ownSockets.delete(claimed);
      if (heldDescriptors > 0) descriptors?.give(heldDescriptors);
      heldDescriptors = 0;
      // close() stops accepting at once (the fd is closed synchronously); the connections already
      // handed out stay open, which is what lets a stopped serve drain them.
      try {
        // Bound but not yet placed: libuv's close unlinks the bound path (in place: our socket, which
        // nobody else can swap there; else: in the private directory, which dispose() removes).
        if (serverRef?.listening === true) serverRef.close();
        if (created !== undefined) removeIfSame(socketPath, created);
      } catch {
        // Already gone, or its directory went away: nothing left to clean.
      }
      bind?.dispose(); // after close(): libuv unlinks the private name through the held directory
    };
  });
}

/** Unlinks `path` only if it is still the file described by `expected`. */
function removeIfSame(path: string, expected: FileId): void {
  const now = statOrNothing(path);
  if (now !== undefined && now.dev === expected.dev && now.ino === expected.ino) unlinkSync(path);
}

function directoryExists(path: string, directories: SocketDirectories): boolean {
  return directories.directoryStats(path)?.isDirectory() === true;
}
