// Our own log: one line per event on stderr, logfmt by default (grep- and eye-friendly),
// JSON with --log-format json (for log shippers). Events are flat by construction (events.ts),
// so one formatter serves every kind; values that are not primitives are printed through
// String(), which a Secret answers with [redacted].
import type { EventBase, SnakeCaseFlatEvent } from '../events';
import type { LogFormat, LogLevel } from './config';

export type LineWriter = (line: string) => void;

const BARE = /^[^\s"=\\]+$/; // logfmt values that need no quotes

function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return BARE.test(s) ? s : JSON.stringify(s);
}

/** `ts=… level=info event=connect serve=BLUE socket=/run/a.sock` */
export function formatLogfmt<E extends EventBase>(event: E, at: Date): string {
  let line = `ts=${at.toISOString()} level=${event.level} event=${logfmtValue(event.kind)}`;
  for (const [key, value] of Object.entries(event)) {
    if (key === 'kind' || key === 'level' || value === undefined) continue;
    line += ` ${key}=${logfmtValue(value)}`;
  }
  return line;
}

export function formatJson<E extends EventBase>(event: E, at: Date): string {
  const { kind, level, ...fields } = event;
  return JSON.stringify({ ts: at.toISOString(), level, event: kind, ...fields });
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Prints events at `least` or above (info by default: debug lines are opt-in). Each field name
 * becomes a key as it is, so the event types must be snake_case and flat: an event type that is
 * not makes the returned function's parameter a type naming the offending fields.
 */
export function createLogger<E extends EventBase>(
  format: LogFormat,
  write: LineWriter,
  least: LogLevel = 'info',
): (event: SnakeCaseFlatEvent<E>) => void {
  const render = format === 'json' ? formatJson : formatLogfmt;
  const floor = RANK[least];
  return (checked) => {
    const event = checked as E; // SnakeCaseFlatEvent<E> is E itself whenever it can be called
    if (RANK[event.level] >= floor) write(render(event, new Date()));
  };
}
