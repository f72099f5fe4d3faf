// Why a spool that was asked for cannot be used. Each is one line naming the path and what to
// fix; the daemon exits 2 on any of them, before a socket listens: a collector that would run
// without its spool is one whose next outage loses lines the operator expected kept.
import { CollectorError, errnoCode } from '../errors';

export type SpoolOpenErrorCode =
  | 'SPOOL_DIR_UNSAFE' // a symlink, another user's, or writable by group/others: someone else could plant or take files
  | 'SPOOL_DIR_FOREIGN' // our directory's name is taken by something we did not make
  | 'SPOOL_DIR_UNUSABLE' // cannot be made or read (ENOTDIR, EACCES, ENOENT under /proc...)
  | 'SPOOL_OPEN_TIMEOUT'; // a file-system step at start did not finish in time (a hung mount)

export class SpoolOpenError extends CollectorError {
  override readonly name = 'SpoolOpenError';

  constructor(
    readonly code: SpoolOpenErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The errno code of a file-system error, `UNKNOWN` when it has none: events always carry one. */
export function errnoOf(err: unknown): string {
  return errnoCode(err) ?? 'UNKNOWN';
}
