// One listening unix socket as an Observable of accepted connections. Subscribing creates the
// socket file; unsubscribing closes the listener and removes the file. The connections it
// emitted belong to the subscriber: closing the listener does not touch them.
import { chmodSync, lstatSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { Observable } from 'rxjs';
import { immediateGate, type Gate } from './sliceGate';

/** sun_path is 108 bytes on Linux including its NUL; Node silently truncates longer paths. */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

export type ListenErrorCode =
  | 'LISTEN_PATH_TOO_LONG' // longer than MAX_UNIX_SOCKET_PATH_BYTES
  | 'LISTEN_NOT_A_SOCKET' // something other than a socket is at the path: never deleted by us
  | 'LISTEN_IN_USE' // a live process listens on the path
  | 'LISTEN_NO_DIRECTORY' // the parent directory does not exist
  | 'LISTEN_FAILED'; // anything else (permissions, chmod): the message has the OS error

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
  readonly mode: number; // chmod of the socket file once listening
  readonly backlog?: number; // pending-connection queue; node's default (511) when absent
  readonly onListening?: () => void; // the socket file exists and accepts connections
  readonly onAcceptError?: (error: Error) => void; // e.g. EMFILE: the listener keeps going
  readonly gate?: Gate; // when to do the synchronous work of creating the socket; at once when absent
}

/** Which file a path held: enough to tell ours from one put there later (a Stats holds 4 Dates). */
interface FileId {
  readonly dev: number;
  readonly ino: number;
}

const idOf = (stats: Stats): FileId => ({ dev: stats.dev, ino: stats.ino });

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
    const fail = (code: ListenErrorCode, message: string): void =>
      subscriber.error(new ListenError(code, socketPath, `${socketPath}: ${message}`));
    let created: FileId | undefined; // our socket file, so teardown never removes someone else's
    let cancelProbe: (() => void) | undefined;
    let withdraw: (() => void) | undefined; // our turn at the gate, while it has not come
    // Made when our turn comes, not at subscribe: 10,000 serves queued at the gate hold no server.
    let serverRef: Server | undefined;

    const listen = (): void => {
      if (!subscriber.closed) createListener().listen({ path: socketPath, backlog: options.backlog });
    };

    const createListener = (): Server => {
      const server = createServer();
      serverRef = server;
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
        if (subscriber.closed) return; // torn down while the bind was being announced
        try {
          created = idOf(lstatSync(socketPath));
          chmodSync(socketPath, options.mode);
        } catch (error) {
          fail('LISTEN_FAILED', `cannot chmod the socket: ${reasonOf(error)}`);
          return;
        }
        options.onListening?.();
      });
      return server;
    };

    const begin = (): void => {
      withdraw = undefined;
      if (subscriber.closed) return;
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
    };
    withdraw = (options.gate ?? immediateGate)(begin);

    return () => {
      withdraw?.();
      cancelProbe?.();
      // close() stops accepting at once (the fd is closed synchronously); the connections already
      // handed out stay open, which is what lets a stopped serve drain them.
      try {
        const server = serverRef;
        if (server?.listening === true) {
          // Bound but 'listening' not delivered yet: the file there is the one bind() just made.
          if (created === undefined) {
            const bound = statOrNothing(socketPath);
            created = bound === undefined ? undefined : idOf(bound);
          }
          server.close();
        }
        if (created !== undefined) removeIfSame(socketPath, created);
      } catch {
        // Already gone, or its directory went away: nothing left to clean.
      }
    };
  });
}

/** Unlinks `path` only if it is still the file described by `expected`. */
function removeIfSame(path: string, expected: FileId): void {
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
