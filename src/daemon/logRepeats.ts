// Storms of the same complaint become one line per serve and reason per window. A local user
// can open a hundred connections a second with a wrong identity or a broken handshake; each
// used to be its own line. Now the first one of a serve and reason is printed as it happens,
// the next ones within repeatWindowMs are only counted, and when the window ends one line
// stands for them: the last one's fields plus `repeated=N` (how many were not printed) and
// `since=` (when the first of those happened). A window with repeats opens another, so a storm
// that lasts prints one line per window; a quiet window forgets the key.
import { eventField, type EventBase } from '../events';
import type { LogOptions } from './options';

/** Kinds that come one per connection and can be provoked by anyone who can connect. */
const REPEATING: ReadonlySet<string> = new Set(['identity_mismatch', 'protocol_error', 'accept_error']);

/** Per serve (socket) and reason (code): what the storm is made of. */
function repeatKey(event: EventBase): string | undefined {
  // A connection that closed before identifying logs a debug-level disconnect: as cheap to provoke.
  const repeating = REPEATING.has(event.kind) || (event.kind === 'disconnect' && event.level === 'debug');
  if (!repeating) return undefined;
  return `${event.kind}\0${String(eventField(event, 'socket'))}\0${String(eventField(event, 'code') ?? '')}`;
}

export interface RepeatClock {
  readonly now: () => number;
  readonly setTimer: (run: () => void, ms: number) => unknown;
  readonly clearTimer: (timer: unknown) => void;
}

const systemClock: RepeatClock = {
  now: () => Date.now(),
  setTimer: (run, ms) => setTimeout(run, ms).unref(), // never what keeps the process alive
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

interface Window {
  timer: unknown;
  repeated: number; // events of this key not printed since the window opened
  since: number; // when the first of them happened
  last: EventBase | undefined; // the latest of them, printed for all
}

export interface RepeatFilter {
  accept(event: EventBase): void;
  /** Prints every count still open and forgets them (at shutdown). */
  flush(): void;
}

export function createRepeatFilter(
  emit: (event: EventBase, at: Date) => void,
  options: Pick<LogOptions, 'repeatWindowMs' | 'maxRepeatKeys'>,
  clock: RepeatClock = systemClock,
): RepeatFilter {
  const windows = new Map<string, Window>();

  const summarize = (w: Window): void => {
    if (w.last === undefined || w.repeated === 0) return;
    const summary = { ...w.last, repeated: w.repeated, since: new Date(w.since).toISOString() };
    emit(summary, new Date(clock.now()));
  };

  const open = (key: string): Window => {
    const w: Window = { timer: undefined, repeated: 0, since: 0, last: undefined };
    const close = (): void => {
      if (w.repeated === 0) {
        windows.delete(key);
        return;
      }
      summarize(w);
      w.repeated = 0;
      w.last = undefined;
      w.timer = clock.setTimer(close, options.repeatWindowMs);
    };
    w.timer = clock.setTimer(close, options.repeatWindowMs);
    windows.set(key, w);
    return w;
  };

  return {
    accept(event) {
      const exact = repeatKey(event);
      if (exact === undefined) {
        emit(event, new Date(clock.now()));
        return;
      }
      // Past maxRepeatKeys (a storm over more serves than that at once), new keys share one
      // window per kind: the count stays exact, the line shows the latest serve.
      const key = windows.has(exact) || windows.size < options.maxRepeatKeys ? exact : `${event.kind}\0*`;
      const w = windows.get(key);
      if (w === undefined) {
        open(key);
        emit(event, new Date(clock.now()));
        return;
      }
      if (w.repeated === 0) w.since = clock.now();
      w.repeated += 1;
      w.last = event;
    },
    flush() {
      for (const w of windows.values()) {
        clock.clearTimer(w.timer);
        summarize(w);
      }
      windows.clear();
    },
  };
}
