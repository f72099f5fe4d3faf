// What the collector tells its operator. Each stage (source, servedb, sink) defines its own event
// union on this base; the daemon prints them as logfmt or JSON lines and the library re-emits
// them on one observable. Fields are flat primitives so that any event prints without a
// per-kind formatter, and tokens never appear in them (pass a Secret and it prints redacted).

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

export type EventField = string | number | boolean | undefined;

/**
 * What every event has. No index signature: each event type lists its fields exactly, so that
 * `e.identiy` inside `if (e.kind === 'connect')` is a compile error, not an `undefined` in the log.
 * The log prints every own field of the object as it is, so field names are the log's keys:
 * snake_case (`retry_in_ms`), checked for every event by `SnakeCaseFlatEvent` below.
 */
export interface EventBase {
  readonly kind: string; // stable, machine-readable: `connect`, `serve_rejected`, `drop`, ...
  readonly level: EventLevel;
}

/** The keys of E that are not snake_case, or whose values are not flat log values. */
export type UnloggableFields<E> = E extends unknown
  ? { [K in keyof E]-?: K extends string ? (K extends Lowercase<K> ? (E[K] extends EventField ? never : K) : K) : K }[keyof E]
  : never;

/** E itself when every field prints as `snake_case=value`; a type error naming the culprits otherwise. */
export type SnakeCaseFlatEvent<E extends EventBase> = [UnloggableFields<E>] extends [never] ? E : { readonly unloggable: UnloggableFields<E> };

/** Any event read as the flat record of fields it is: how the log (and its specs) see events. */
export type FlatEvent = EventBase & { readonly [field: string]: EventField };

/** A field of any event by name, for the log's generic handling (e.g. which serve a storm is on). */
export function eventField(event: EventBase, key: string): EventField {
  return (event as FlatEvent)[key];
}

/** Where a stage reports events; the daemon passes one that logs, the library one that emits. */
export type EventSink<E extends EventBase> = (event: E) => void;

/** For callers that do not care. */
export const ignoreEvents = (): void => undefined;
