// What can stop the serve database from opening. The code is what a supervisor or a test keys
// on; the message is one line a person can act on, naming the path and the way out.
// A rejected serves.new is not an error of this kind: it is an event (serves_rejected) and
// the collector keeps running with what it had.

import { CollectorError, errnoCode } from '../errors';

export type ServeDbErrorCode =
  | 'SERVEDB_MISSING_DIR' // SERVE_DB_DIR does not exist
  | 'SERVEDB_NOT_A_DIR' // SERVE_DB_DIR is a file (or something else that is not a directory)
  | 'SERVEDB_UNREADABLE' // the directory or serves.loaded could not be read (permissions, I/O)
  | 'SERVEDB_CORRUPT_LOADED' // serves.loaded is not a valid serves file
  | 'SERVEDB_LOCKED' // another running collector holds SERVE_DB_DIR/lock
  | 'SERVEDB_UNSAFE'; // SERVE_DB_DIR, or the way to it, is another user's or writable by others

export class ServeDbError extends CollectorError {
  override readonly name = 'ServeDbError';
  readonly code: ServeDbErrorCode;

  constructor(code: ServeDbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export { errnoCode } from '../errors';

/** A short reason for a Node fs error without its stack: `EACCES: permission denied`. */
export function describeFsError(err: unknown): string {
  // Not `instanceof Error`: errors from Node's internals may come from another realm (vm, jest).
  const message = typeof err === 'object' && err !== null && 'message' in err ? err.message : undefined;
  if (typeof message !== 'string') return String(err);
  // Node's message repeats the syscall and path (`EACCES: permission denied, open '/x'`);
  // the callers name the path themselves, so keep the part before the comma.
  const comma = message.indexOf(', ');
  return errnoCode(err) !== undefined && comma > 0 ? message.slice(0, comma) : message;
}
