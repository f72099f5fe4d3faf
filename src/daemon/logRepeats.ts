// Storms of the same complaint become one line per serve and reason per window. A local user
// can open a hundred connections a second with a wrong identity or a broken handshake; each
// used to be its own line. Now the first one of a serve and reason is printed as it happens,
// the next ones within repeatWindowMs are only counted, and when the window ends one line
// stands for them: the last one's fields plus `repeated=N` (how many were not printed) and
// `since=` (when the first of those happened). A window with repeats opens another, so a storm
// that lasts prints one line per window; a quiet window forgets the key (throttle.ts).
import { eventField, type EventBase } from '../events';
import type { SchedulerLike } from '../rx';
import { KeyedThrottle } from '../throttle';
import { unrefScheduler } from '../unrefScheduler';
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

export interface RepeatFilter {
  accept(event: EventBase): void;
  /** Prints every count still open and forgets them (at shutdown). */
  flush(): void;
}

/** `scheduler` keeps the windows and the lines' times; by default its timers never keep the process alive. */
export function createRepeatFilter(
  emit: (event: EventBase, at: Date) => void,
  options: Pick<LogOptions, 'repeatWindowMs' | 'maxRepeatKeys'>,
  scheduler: SchedulerLike = unrefScheduler(),
): RepeatFilter {
  const windows = new KeyedThrottle<string, EventBase>(options.repeatWindowMs, scheduler, (_key, { value, held, since }) => {
    const at = new Date(scheduler.now());
    if (held === 0) emit(value, at);
    else {
      const summary = { ...value, repeated: held, since: new Date(since).toISOString() };
      emit(summary, at);
    }
  });
  return {
    accept(event) {
      const exact = repeatKey(event);
      if (exact === undefined) return emit(event, new Date(scheduler.now()));
      // Past maxRepeatKeys (a storm over more serves than that at once), new keys share one
      // window per kind: the count stays exact, the line shows the latest serve.
      const key = windows.has(exact) || windows.size < options.maxRepeatKeys ? exact : `${event.kind}\0*`;
      windows.offer(key, event);
    },
    flush: () => windows.flush(),
  };
}
