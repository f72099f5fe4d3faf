// What the serve database tells the operator. Flat primitive fields (../events.ts), never a
// token: errors come from validate.ts, which does not echo secrets, and from fs errors, which
// carry paths only.
import type { EventBase } from '../events';
import type { LookReason } from './watch';

/** A serves.new was valid and is now in force (and copied to serves.loaded). */
export interface ServesAcceptedEvent extends EventBase {
  readonly kind: 'serves_accepted';
  readonly level: 'info';
  readonly dir: string; // the serve database directory
  readonly serves: number; // serves in force now
  readonly added: number; // socket paths new in this set
  readonly removed: number; // socket paths no longer served
  readonly updated: number; // same socket path, different identity, label, endpoint or token
  readonly changed: boolean; // false when serves.new said what was already served
  readonly reason: LookReason; // what made us look
}

/** A look asked for (SIGHUP, reload()) found no serves.new: the set in force stays as it is. */
export interface ServesUnchangedEvent extends EventBase {
  readonly kind: 'serves_unchanged';
  readonly level: 'info';
  readonly dir: string;
  readonly serves: number; // serves in force, unchanged
  readonly reason: LookReason;
}

/** A serves.new was invalid: renamed to serves.rej, `error` written to last_error. */
export interface ServesRejectedEvent extends EventBase {
  readonly kind: 'serves_rejected';
  readonly level: 'error';
  readonly dir: string;
  readonly problems: number; // how many problems were found
  readonly error: string; // the problems one per line (the first 20), as in last_error
  readonly serves: number; // serves still in force, unchanged
  readonly reason: LookReason;
}

/** An accepted serves.new that is valid but likely a mistake (warnings.ts): one event per warning. */
export interface ServesWarningEvent extends EventBase {
  readonly kind: 'serves_warning';
  readonly level: 'warn';
  readonly dir: string;
  readonly warning: string; // what was accepted, and what it means
}

/** Start-up found a lock whose daemon is gone, and took it over. */
export interface StaleLockEvent extends EventBase {
  readonly kind: 'serve_db_lock_taken_over';
  readonly level: 'warn';
  readonly dir: string;
  readonly stale_pid: number; // the PID in the lock file: no such process is running
}

/** Something failed that is not the file's fault; the next look tries again. */
export interface ServesErrorEvent extends EventBase {
  readonly kind: 'serves_error';
  readonly level: 'warn' | 'error';
  readonly dir: string;
  readonly during: 'read' | 'accept' | 'reject' | 'watch' | 'pass';
  readonly error: string; // one line: what failed, on which file, and why
}

export type ServeDbEvent = ServesAcceptedEvent | ServesUnchangedEvent | ServesRejectedEvent | ServesWarningEvent | ServesErrorEvent | StaleLockEvent;
