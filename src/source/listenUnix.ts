// One listening unix socket as an Observable of accepted connections. Subscribing creates the
// socket file; unsubscribing closes the listener and removes the file. The connections it
// emitted belong to the subscriber: closing the listener does not touch them.
import { lstatSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { Observable } from 'rxjs';
import { privateBind, type PrivateBind } from './privateBind';

/** sun_path is 108 bytes on Linux including its NUL; Node silently truncates longer paths. */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

export type ListenErrorCode =
  | 'LISTEN_PATH_TOO_LONG' // longer than MAX_UNIX_SOCKET_PATH_BYTES
  | 'LISTEN_NOT_A_SOCKET' // something other than a socket is at the path: never deleted by us
  | 'LISTEN_IN_USE' // a live process listens on the path
  | 'LISTEN_NO_DIRECTORY' // the parent directory does not exist
  | 'LISTEN_FAILED'; // anything else (permissions, chmod, chown): the message has the OS error

export class ListenError extends Error {
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
}

// Duck-typed, not `instanceof Error`: errors from node's core may come from another realm (jest's
// vm sandbox is one), where instanceof is false.
const errnoCode = (error: unknown): string | undefined => {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
};

const reasonOf = (error: unknown): string => {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(error);
};

/** The file at `path`, or undefined when there is none. */
function statOrNothing(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return undefined;
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
  return new Observable<Socket>((subscriber) => {
    let bind: PrivateBind | undefined; // the private directory the socket is bound in (privateBind.ts)
    // The teardown below runs on error too: it closes the server, then disposes of `bind`.
    const fail = (code: ListenErrorCode, message: string): void =>
      subscriber.error(new ListenError(code, socketPath, `${socketPath}: ${message}`));
    let created: Stats | undefined; // our socket file, so teardown never removes someone else's
    let cancelProbe: (() => void) | undefined;

    const server = createServer();
    server.on('connection', (socket: Socket) => subscriber.next(socket));
    server.on('error', (error) => {
      if (created !== undefined) {
        options.onAcceptError?.(error); // accept() failed for one connection; keep listening
        return;
      }
      const code = errnoCode(error);
      // libuv reports a missing directory on bind() as EACCES, so look before blaming permissions.
      if (code === 'ENOENT' || code === 'ENOTDIR' || !directoryExists(dirname(socketPath))) {
        fail('LISTEN_NO_DIRECTORY', `directory ${dirname(socketPath)} does not exist`);
      } else if (code === 'EADDRINUSE') {
        fail('LISTEN_IN_USE', 'another process created a socket here meanwhile');
      } else {
        fail('LISTEN_FAILED', `cannot listen: ${reasonOf(error)}`);
      }
    });
    server.on('listening', () => {
      if (subscriber.closed || bind === undefined) return; // torn down while the bind was being announced
      try {
        created = bind.place(socketPath, options.mode, options.gid);
      } catch (error) {
        if (errnoCode(error) === 'EEXIST') fail('LISTEN_IN_USE', 'something appeared at the path while the socket was being created');
        else fail('LISTEN_FAILED', `cannot give the socket its mode and group: ${reasonOf(error)}`);
        return;
      }
      options.onListening?.(created);
    });

    // Bound in a private directory, given its mode and group there, then linked into place: a
    // path someone else can swap is never chmodded (privateBind.ts).
    const listen = (): void => {
      if (subscriber.closed) return;
      try {
        bind = privateBind(socketPath);
      } catch (error) {
        const code = errnoCode(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') fail('LISTEN_NO_DIRECTORY', `directory ${dirname(socketPath)} does not exist`);
        else fail('LISTEN_FAILED', `cannot create a private directory beside the socket: ${reasonOf(error)}`);
        return;
      }
      server.listen({ path: bind.bindPath, backlog: options.backlog });
    };

    if (Buffer.byteLength(socketPath) > MAX_UNIX_SOCKET_PATH_BYTES) {
      fail(
        'LISTEN_PATH_TOO_LONG',
        `path is ${Buffer.byteLength(socketPath)} bytes, unix sockets allow at most ${MAX_UNIX_SOCKET_PATH_BYTES}`,
      );
    } else {
      let existing: Stats | undefined;
      try {
        existing = statOrNothing(socketPath);
      } catch (error) {
        fail('LISTEN_FAILED', `cannot look at the path: ${reasonOf(error)}`);
      }
      if (subscriber.closed) {
        // failed above
      } else if (existing === undefined && !directoryExists(dirname(socketPath))) {
        fail('LISTEN_NO_DIRECTORY', `directory ${dirname(socketPath)} does not exist`);
      } else if (existing === undefined) {
        listen();
      } else if (!existing.isSocket()) {
        fail('LISTEN_NOT_A_SOCKET', 'a file that is not a socket is in the way; remove it or choose another path');
      } else {
        cancelProbe = probeSocket(socketPath, (live, error) => {
          cancelProbe = undefined;
          if (live) return fail('LISTEN_IN_USE', 'another process is listening on this socket');
          if (error !== undefined) return fail('LISTEN_FAILED', `cannot check the existing socket: ${reasonOf(error)}`);
          try {
            removeIfSame(socketPath, existing); // stale: a previous run's
          } catch (unlinkError) {
            return fail('LISTEN_FAILED', `cannot remove the stale socket: ${reasonOf(unlinkError)}`);
          }
          listen();
        });
      }
    }

    return () => {
      cancelProbe?.();
      // close() stops accepting at once (the fd is closed synchronously); the connections already
      // handed out stay open, which is what lets a stopped serve drain them.
      try {
        // Bound but not yet placed: the file is in the private directory, which dispose() removes.
        if (server.listening) server.close();
        if (created !== undefined) removeIfSame(socketPath, created);
      } catch {
        // Already gone, or its directory went away: nothing left to clean.
      }
      bind?.dispose(); // after close(): libuv unlinks the private name through the held directory
    };
  });
}

/** Unlinks `path` only if it is still the file described by `expected`. */
function removeIfSame(path: string, expected: Stats): void {
  const now = statOrNothing(path);
  if (now !== undefined && now.dev === expected.dev && now.ino === expected.ino) unlinkSync(path);
}

function directoryExists(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
