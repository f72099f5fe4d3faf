// One listening unix socket as an Observable of accepted connections. Subscribing creates the
// socket file; unsubscribing closes the listener and removes the file. The connections it
// emitted belong to the subscriber: closing the listener does not touch them.
import { CollectorError, errnoCode } from '../errors';
import { lstatSync, unlinkSync, type Stats } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { Observable, type Subscriber } from '../rx';
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
  return new Observable<Socket>((subscriber) => {
    const listener = new UnixListener(socketPath, options, directories, subscriber);
    listener.queue();
    // The teardown runs on error too: it closes the server, then disposes of the bind.
    return () => listener.close();
  });
}

/**
 * One subscription's listener, step by step:
 *   queued (its turn at the gate) → looking (at what is at the path; probing a socket found there)
 *   → bound (descriptors taken, socket bound, server listening) → placed (mode, group, at its path).
 * Any step may fail (the subscriber gets the ListenError); close() releases whatever the steps
 * took, in any phase.
 */
class UnixListener {
  #phase: 'queued' | 'looking' | 'bound' | 'placed' | 'closed' = 'queued';
  #withdraw: (() => void) | undefined; // our turn at the gate, while it has not come
  #cancelProbe: (() => void) | undefined; // while probing a socket file found at the path
  #heldDescriptors = 0; // the listener's own, and its private directory's when it keeps one
  #claimed: string | undefined; // our key in ownSockets while we listen (or bind)
  #bind: SocketBind | undefined; // where the socket is bound, in place or in a private directory (socketBind.ts)
  // Made when our turn comes, not at subscribe: 10,000 serves queued at the gate hold no server.
  #server: Server | undefined;
  #created: FileId | undefined; // our socket file, so close() never removes someone else's

  constructor(
    private readonly socketPath: string,
    private readonly options: ListenUnixOptions,
    private readonly directories: SocketDirectories,
    private readonly subscriber: Subscriber<Socket>,
  ) {}

  queue(): void {
    this.#withdraw = (this.options.gate ?? immediateGate)(() => this.#begin());
  }

  #fail(code: ListenErrorCode, message: string): void {
    this.subscriber.error(new ListenError(code, this.socketPath, `${this.socketPath}: ${message}`));
  }

  #noDirectory(): void {
    this.#fail('LISTEN_NO_DIRECTORY', `directory ${dirname(this.socketPath)} does not exist`);
  }

  /** Fails and returns true when another of our serves holds this socket (under another path). */
  #heldByOwnServe(): boolean {
    const place = placeOf(this.socketPath, this.directories);
    const holder = place === undefined ? undefined : this.directories.ownSockets.get(place);
    if (holder === undefined) return false;
    this.#fail('LISTEN_OWN_SERVE', `this process already listens on this socket, for the serve at ${holder} (the same socket under another path)`);
    return true;
  }

  /** Our turn at the gate: look at what is at the path, and listen when it may be ours. */
  #begin(): void {
    this.#withdraw = undefined;
    if (this.subscriber.closed) return;
    this.#phase = 'looking';
    const path = this.socketPath;
    if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH_BYTES) {
      return this.#fail('LISTEN_PATH_TOO_LONG', `path is ${Buffer.byteLength(path)} bytes, unix sockets allow at most ${MAX_UNIX_SOCKET_PATH_BYTES}`);
    }
    let existing: Stats | undefined;
    try {
      existing = statOrNothing(path);
    } catch (error) {
      return this.#fail('LISTEN_FAILED', `cannot look at the path: ${reasonOf(error)}`);
    }
    // Ours already (probing it would hand our own serve a stray connection).
    if (this.#heldByOwnServe()) return;
    if (existing === undefined && !directoryExists(dirname(path), this.directories)) return this.#noDirectory();
    if (existing === undefined) return this.#listen();
    if (!existing.isSocket()) return this.#fail('LISTEN_NOT_A_SOCKET', 'a file that is not a socket is in the way; remove it or choose another path');
    this.#takeOverIfStale(idOf(existing));
  }

  /** A socket file is at the path: a live listener keeps it; a stale one (nobody answers) is removed. */
  #takeOverIfStale(stale: FileId): void {
    this.#cancelProbe = probeSocket(this.socketPath, (live, error) => {
      this.#cancelProbe = undefined;
      if (live) return this.#fail('LISTEN_IN_USE', 'another process is listening on this socket');
      if (error !== undefined) return this.#fail('LISTEN_FAILED', `cannot check the existing socket: ${reasonOf(error)}`);
      try {
        removeIfSame(this.socketPath, stale); // stale: a previous run's
      } catch (unlinkError) {
        return this.#fail('LISTEN_FAILED', `cannot remove the stale socket: ${reasonOf(unlinkError)}`);
      }
      this.#listen();
    });
  }

  /** Takes one more descriptor for `what`; fails (false) when the open-file limit leaves none. */
  #takeDescriptor(what: string): boolean {
    const descriptors = this.options.descriptors;
    if (descriptors === undefined) return true;
    if (!descriptors.take(1)) {
      this.#fail('LISTEN_FILE_LIMIT', `no descriptor ${what}: listeners and connections hold the ${descriptors.limit} the open-file limit leaves them`);
      return false;
    }
    this.#heldDescriptors += 1;
    return true;
  }

  // Bound in place where nobody else can swap the path and nobody could connect before the mode
  // is given who could not after; elsewhere bound in a private directory, given its mode and
  // group there, then linked into place: a path someone else can swap is never chmodded
  // (socketBind.ts).
  #listen(): void {
    if (this.subscriber.closed || this.#heldByOwnServe()) return;
    if (!this.#takeDescriptor('to listen with')) return;
    let bind: SocketBind;
    try {
      bind = this.#bind = socketBind(this.socketPath, this.options.mode, this.options.gid, this.directories);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') this.#noDirectory();
      else this.#fail('LISTEN_FAILED', `cannot create a private directory beside the socket: ${reasonOf(error)}`);
      return;
    }
    if (bind.holdsDirectory && !this.#takeDescriptor("for the socket's private directory")) return;
    this.#claimed = placeOf(this.socketPath, this.directories);
    if (this.#claimed !== undefined) this.directories.ownSockets.set(this.#claimed, this.socketPath);
    const server = this.#createServer(bind);
    server.listen({ path: bind.bindPath, backlog: this.options.backlog });
    bind.bound();
    this.#phase = 'bound';
    // A unix socket is bound and listening when listen() returns (its 'listening' event only
    // comes in a later tick): placing it now keeps that work inside the gate's slice, where
    // after the tick it ran past the slice's clock and doubled how long each slice held the loop.
    if (server.listening) this.#place(bind);
  }

  #createServer(bind: SocketBind): Server {
    const { options } = this;
    const server = options.readHighWaterMark === undefined ? createServer() : createServer({ highWaterMark: options.readHighWaterMark });
    this.#server = server;
    // Not server.maxConnections: node would close the newcomer, whoever holds the slots.
    server.on('connection', (socket: Socket) => {
      if (options.admit === undefined || options.admit(socket)) this.subscriber.next(socket);
    });
    server.on('error', (error) => this.#onServerError(error));
    server.on('listening', () => this.#place(bind)); // done already when listen() bound at once
    return server;
  }

  #onServerError(error: Error): void {
    if (this.#created !== undefined) {
      this.options.onAcceptError?.(error); // accept() failed for one connection; keep listening
      return;
    }
    const code = errnoCode(error);
    // libuv reports a missing directory on bind() as EACCES, so look before blaming permissions.
    if (code === 'ENOENT' || code === 'ENOTDIR' || !directoryExists(dirname(this.socketPath), this.directories)) this.#noDirectory();
    else if (code === 'EADDRINUSE') this.#fail('LISTEN_IN_USE', 'another process created a socket here meanwhile');
    else this.#fail('LISTEN_FAILED', `cannot listen: ${reasonOf(error)}`);
  }

  /** Gives the bound socket its mode and group and puts it at its path: then it is listening. */
  #place(bind: SocketBind): void {
    if (this.subscriber.closed || this.#phase === 'placed') return; // torn down meanwhile, or placed already
    let socketStats: Stats;
    try {
      socketStats = bind.place(this.socketPath, this.options.mode, this.options.gid);
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') this.#fail('LISTEN_IN_USE', 'something appeared at the path while the socket was being created');
      else this.#fail('LISTEN_FAILED', `cannot give the socket its mode and group: ${reasonOf(error)}`);
      return;
    }
    this.#created = idOf(socketStats);
    this.#phase = 'placed';
    this.options.onListening?.(socketStats);
  }

  /** Releases what the steps took, whichever was reached. */
  close(): void {
    this.#phase = 'closed';
    this.#withdraw?.();
    this.#cancelProbe?.();
    const { ownSockets } = this.directories;
    if (this.#claimed !== undefined && ownSockets.get(this.#claimed) === this.socketPath) ownSockets.delete(this.#claimed);
    if (this.#heldDescriptors > 0) this.options.descriptors?.give(this.#heldDescriptors);
    this.#heldDescriptors = 0;
    // close() stops accepting at once (the fd is closed synchronously); the connections already
    // handed out stay open, which is what lets a stopped serve drain them.
    try {
      // Bound but not yet placed: libuv's close unlinks the bound path (in place: our socket, which
      // nobody else can swap there; else: in the private directory, which dispose() removes).
      if (this.#server?.listening === true) this.#server.close();
      if (this.#created !== undefined) removeIfSame(this.socketPath, this.#created);
    } catch {
      // Already gone, or its directory went away: nothing left to clean.
    }
    this.#bind?.dispose(); // after close(): libuv unlinks the private name through the held directory
  }
}

/** Unlinks `path` only if it is still the file described by `expected`. */
function removeIfSame(path: string, expected: FileId): void {
  const now = statOrNothing(path);
  if (now !== undefined && now.dev === expected.dev && now.ino === expected.ino) unlinkSync(path);
}

function directoryExists(path: string, directories: SocketDirectories): boolean {
  return directories.directoryStats(path)?.isDirectory() === true;
}
