// Every tunable of the spool, with its default and the reason for it, in one place. The daemon
// leaves unset flags undefined (daemon/config.ts) so that these stay the only defaults.

import { CollectorError } from '../errors';
export interface SpoolOptions {
  readonly dir: string; // the spool makes its own directory in here (layout.ts); off when no spool is configured
  readonly capBytes: number; // all serves' segment files together; past it, batches stay in memory and drop at the buffer cap
  readonly syncIntervalMs: number; // longest an appended batch waits for fdatasync: what power loss can take
  readonly segmentBytes: number; // a segment file is closed and a new one started past this size
  readonly minFreeRatio: number; // stop spooling when the file system has less free than this share of its size...
  readonly minFreeBytes: number; // ...or than this many bytes, whichever is larger
  readonly statfsIntervalMs: number; // how often free space is read again (appends in between are subtracted)
  readonly highWaterBytes: number; // a serve's in-memory ledger past this sends new batches to disk even while logplex answers
  readonly retryAfterErrorMs: number; // after a disk error the spool is off this long, then tried again
  readonly openTimeoutMs: number; // each file-system step of opening the spool (and each statfs) must finish within this
}

export type SpoolOptionsInput = Partial<SpoolOptions> & { readonly dir: string };

export const DEFAULT_SPOOL_OPTIONS: Omit<SpoolOptions, 'dir'> = {
  // A day of a busy serve's gzipped logs (the bench: ~6:1 at level 1) is a few hundred MB; 1 GiB
  // holds that and is small beside a database's disk.
  capBytes: 1024 * 1024 * 1024,
  // As syslog-ng's reliable buffer does: one fdatasync a second per serve
  // writing costs nothing measurable, and bounds what power loss takes to the last second.
  // A crash of the process alone (kill -9) loses nothing written: the page cache keeps it.
  syncIntervalMs: 1000,
  // Small enough that damage (which loses the rest of its segment) and a fully delivered
  // segment's lingering bytes stay small; large enough that files are few (1 GiB = 256 files).
  segmentBytes: 4 * 1024 * 1024,
  // PostgreSQL's disk is usually this one: never take the last tenth, or the last GiB, from it.
  minFreeRatio: 0.1,
  minFreeBytes: 1024 * 1024 * 1024,
  // statfs is cheap, but not per batch: a second's appends are at most a few MB at 5k records/s.
  statfsIntervalMs: 1000,
  // A quarter of the default buffer cap (32 MiB): a serve that falls that far behind logplex is
  // better off writing to disk than filling memory to the point of drops.
  highWaterBytes: 8 * 1024 * 1024,
  // A full or failing disk may recover (an operator frees space); trying once a minute is cheap.
  retryAfterErrorMs: 60_000,
  // A local disk answers in microseconds and a busy one in milliseconds; a step still pending
  // after this is a hung mount, which start-up must report rather than wait on forever.
  openTimeoutMs: 10_000,
};

/** Validation failure of a spool option, named by path as the daemon prints it. */
export class SpoolOptionsError extends CollectorError {
  readonly code = 'SPOOL_OPTIONS_INVALID';
  override readonly name = 'SpoolOptionsError';
}

export function resolveSpoolOptions(input: SpoolOptionsInput): SpoolOptions {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const o: SpoolOptions = { ...DEFAULT_SPOOL_OPTIONS, ...defined, dir: input.dir };
  if (typeof o.dir !== 'string' || o.dir === '') throw new SpoolOptionsError('spool.dir: must be a directory path');
  const check = (path: keyof SpoolOptions, ok: boolean, what: string): void => {
    if (!ok) throw new SpoolOptionsError(`spool.${path}: must be ${what}, got ${String(o[path])}`);
  };
  const positive = (path: keyof SpoolOptions): void => {
    const v = o[path];
    check(path, typeof v === 'number' && Number.isFinite(v) && v > 0, 'a positive number');
  };
  positive('capBytes');
  positive('syncIntervalMs');
  positive('segmentBytes');
  positive('statfsIntervalMs');
  positive('highWaterBytes');
  positive('retryAfterErrorMs');
  positive('openTimeoutMs');
  check('minFreeRatio', o.minFreeRatio >= 0 && o.minFreeRatio < 1, 'between 0 and 1');
  check('minFreeBytes', Number.isFinite(o.minFreeBytes) && o.minFreeBytes >= 0, 'a non-negative number');
  return o;
}
