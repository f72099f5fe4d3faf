// What the sink tells the operator. Serves are named by label and socket path only, the same
// fields the socket source uses (`serve=BLUE socket=/run/a.sock`); never a URL, user or token.
import type { EventBase } from '../events';

export interface PostFailedEvent extends EventBase {
  readonly kind: 'post_failed';
  readonly level: 'warn' | 'error'; // error when the batch is given up
  readonly serve: string | undefined;
  readonly socket: string;
  readonly code: string; // PostError code, e.g. LOGPLEX_HTTP_STATUS
  readonly status: number | undefined; // HTTP status when logplex answered
  readonly cause: string | undefined; // undici/system code, e.g. ECONNREFUSED
  readonly attempt: number; // 1 for the first try
  readonly will_retry: boolean;
  readonly retry_in_ms: number | undefined; // undefined when the batch is given up
  readonly frames: number;
}

export interface BatchLostEvent extends EventBase {
  readonly kind: 'batch_lost';
  readonly level: 'error';
  readonly serve: string | undefined;
  readonly socket: string;
  readonly frames: number; // frames given up: its log frames; its L10 notices are announced again by a later batch, or counted here when it was the serve's last
  readonly reason: string; // permanent | max_attempts | max_age | prepare_failed
  readonly code: string;
  readonly status: number | undefined;
  readonly attempts: number;
}

export interface DropEvent extends EventBase {
  readonly kind: 'drop';
  readonly level: 'warn';
  readonly serve: string | undefined;
  readonly socket: string;
  /** `started`: first drop of a run; `announced`: the run's total went out in an L10 frame. */
  readonly phase: 'started' | 'announced';
  readonly count: number; // frames dropped (so far, or in the announced run)
  readonly since: string; // ISO time of the run's first drop
}

export interface FormatFailedEvent extends EventBase {
  readonly kind: 'format_failed';
  readonly level: 'error';
  readonly serve: string | undefined;
  readonly socket: string;
  readonly error: string;
}

export type SinkEvent = PostFailedEvent | BatchLostEvent | DropEvent | FormatFailedEvent;
