// What the spool tells the operator. Serves are named by label and socket path only, as in the
// sink's events; never a URL, user or token (the files hold tokens; the log never does).
import type { EventBase } from '../events';
import type { Untrusted } from './layout';

/** At start-up: a serve's spool was found on disk and is being delivered. */
export interface SpoolRecoveredEvent extends EventBase {
  readonly kind: 'spool_recovered';
  readonly level: 'info' | 'warn'; // warn when damage was cut off
  readonly serve: string | undefined;
  readonly socket: string;
  readonly batches: number; // pending batches found, to be delivered
  readonly frames: number; // log frames in them
  readonly bytes: number; // segment bytes on disk
  readonly skipped_bytes: number; // torn or corrupt tails cut off (not trusted, not delivered)
  readonly damaged_segments: number;
}

/** A segment turned out damaged while being read back (after start-up): the rest of it is skipped. */
export interface SpoolDamagedEvent extends EventBase {
  readonly kind: 'spool_damaged';
  readonly level: 'error';
  readonly socket: string;
  readonly segment: string; // file name
  readonly offset: number;
  readonly batches: number; // pending batches of the segment given up
}

/** The disk failed the spool (ENOSPC, EIO, EACCES...): batches stay in memory as without a spool. */
export interface SpoolFailedEvent extends EventBase {
  readonly kind: 'spool_failed';
  readonly level: 'error';
  readonly op: string; // append, read, ack, sync, statfs, recover
  readonly code: string; // errno code, e.g. ENOSPC
  readonly retry_in_ms: number;
}

/** The spool stopped taking batches (cap or free-space floor), or takes them again. */
export interface SpoolFullEvent extends EventBase {
  readonly kind: 'spool_full' | 'spool_resumed';
  readonly level: 'warn' | 'info';
  readonly reason: 'cap' | 'floor' | 'error';
  readonly bytes: number; // the spool's total size on disk
}

/**
 * An entry of the spool's directory was left alone: not a name of its layout, or not a file or
 * directory it can trust (a symlink, another user's, open to others, linked elsewhere) or read.
 * Never read, posted, truncated or removed; the rest of the spool goes on.
 */
export interface SpoolEntrySkippedEvent extends EventBase {
  readonly kind: 'spool_entry_skipped';
  readonly level: 'warn';
  readonly path: string;
  readonly reason: Untrusted;
  readonly code: string | undefined; // the errno, when reading it failed
}

/**
 * The spool directory holds spools in the layout of an earlier version (a directory named by a
 * 32-digit hash per serve, directly in it). They are not ours to read or remove in this layout:
 * their batches are not delivered by this version, and said so rather than left silently.
 */
export interface SpoolLegacyFoundEvent extends EventBase {
  readonly kind: 'spool_legacy_found';
  readonly level: 'warn';
  readonly dir: string;
  readonly directories: number;
}

export type SpoolEvent = SpoolRecoveredEvent | SpoolDamagedEvent | SpoolFailedEvent | SpoolFullEvent | SpoolEntrySkippedEvent | SpoolLegacyFoundEvent;
