// Our own log: one line per event on stderr, logfmt by default (grep- and eye-friendly),
// JSON with --log-format json (for log shippers). Events are flat by construction (events.ts),
// so one formatter serves every kind; values that are not primitives are printed through
// String(), which a Secret answers with [redacted].
//
// Values may come from a peer (an identity, a version string), so each is tamed before it is
// printed: cut to maxFieldChars with its length said (`abc…(1048512 chars)`), and every control
// or invisible formatting character escaped (`\u001b`), in both formats, so that no peer can
// write terminal escapes, fake line breaks or right-to-left overrides into an operator's log.
import type { EventBase, SnakeCaseFlatEvent } from '../events';
import { escapeInvisible, quoteVisibly } from '../quote';
import type { LogFormat, LogLevel } from './config';
import { DEFAULT_LOG_OPTIONS } from './options';
import { createRepeatFilter } from './logRepeats';
import { createLogWriter, type LogSink } from './logWriter';

/** Field caps of the renderer (options.ts). */
export interface RenderLimits {
  readonly maxFieldChars: number;
  readonly maxErrorChars: number;
}

const DEFAULT_LIMITS: RenderLimits = DEFAULT_LOG_OPTIONS;

// Bare logfmt values: no space, quote, `=` or backslash, and nothing invisible (\p{C}: controls,
// format characters, surrogates, unassigned; \p{Z}: every kind of space and line separator).
const BARE = /^[^\s"=\\\p{C}\p{Z}]+$/u;

/** `s` cut to `max` UTF-16 units (never inside a surrogate pair), saying how long it was. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = max;
  const last = s.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1; // keep the pair whole: drop its first half
  return `${s.slice(0, cut)}…(${s.length} chars)`;
}

function tame(key: string, value: unknown, limits: RenderLimits): string | number | boolean {
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  const s = typeof value === 'string' ? value : String(value);
  return truncate(s, key === 'error' ? limits.maxErrorChars : limits.maxFieldChars);
}

function logfmtValue(v: string | number | boolean): string {
  const s = String(v);
  return BARE.test(s) ? s : quoteVisibly(s);
}

/** `ts=… level=info event=connect serve=BLUE socket=/run/a.sock` */
export function formatLogfmt<E extends EventBase>(event: E, at: Date, limits: RenderLimits = DEFAULT_LIMITS): string {
  let line = `ts=${at.toISOString()} level=${event.level} event=${logfmtValue(tame('event', event.kind, limits))}`;
  for (const [key, value] of Object.entries(event)) {
    if (key === 'kind' || key === 'level' || value === undefined) continue;
    line += ` ${key}=${logfmtValue(tame(key, value, limits))}`;
  }
  return line;
}

export function formatJson<E extends EventBase>(event: E, at: Date, limits: RenderLimits = DEFAULT_LIMITS): string {
  const fields: Record<string, string | number | boolean> = {
    ts: at.toISOString(),
    level: event.level,
    event: tame('event', event.kind, limits),
  };
  for (const [key, value] of Object.entries(event)) {
    if (key === 'kind' || key === 'level' || value === undefined) continue;
    fields[key] = tame(key, value, limits);
  }
  return escapeInvisible(JSON.stringify(fields));
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type Logger<E extends EventBase> = ((event: SnakeCaseFlatEvent<E>) => void) & {
  /** Prints the repeats still being counted (at the end: nothing counted goes unsaid). */
  readonly flushRepeats: () => void;
  /** Resolves once stderr has taken every line, or after `timeoutMs`, whichever comes first. */
  readonly drained: (timeoutMs: number) => Promise<void>;
};

/**
 * Our log: events at `least` or above (info by default: debug lines are opt-in) → repeats folded
 * (logRepeats.ts) → tamed lines → a bounded queue on `sink` (logWriter.ts), which drops and
 * counts our own lines rather than grow or block when stderr backs up. Each field name becomes a
 * key as it is, so the event types must be snake_case and flat: an event type that is not makes
 * the returned function's parameter a type naming the offending fields.
 */
export function createLogger<E extends EventBase>(
  format: LogFormat,
  sink: LogSink,
  least: LogLevel = 'info',
  options = DEFAULT_LOG_OPTIONS,
): Logger<E> {
  const render = format === 'json' ? formatJson : formatLogfmt;
  const floor = RANK[least];
  const writer = createLogWriter(sink, {
    maxQueuedBytes: options.maxQueuedBytes,
    dropped: (count, since) => render({ kind: 'log_dropped', level: 'warn', count, since: since.toISOString() }, new Date(), options),
  });
  const repeats = createRepeatFilter((event, at) => writer.write(render(event, at, options)), options);
  const log = (checked: SnakeCaseFlatEvent<E>): void => {
    const event = checked as E; // SnakeCaseFlatEvent<E> is E itself whenever it can be called
    if (RANK[event.level] >= floor) repeats.accept(event);
  };
  return Object.assign(log, {
    flushRepeats: () => repeats.flush(),
    drained: (timeoutMs: number) => writer.drained(timeoutMs),
  });
}
