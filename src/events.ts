// What the collector tells its operator. Each stage (source, servedb, sink) defines its own event
// union on this base; the daemon prints them as logfmt or JSON lines and the library re-emits
// them on one observable. Fields are flat primitives so that any event prints without a
// per-kind formatter, and tokens never appear in them (pass a Secret and it prints redacted).

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

export type EventField = string | number | boolean | undefined;

export interface EventBase {
  readonly kind: string; // stable, machine-readable: `connect`, `serve_rejected`, `drop`, ...
  readonly level: EventLevel;
  readonly [field: string]: EventField;
}

/** Where a stage reports events; the daemon passes one that logs, the library one that emits. */
export type EventSink<E extends EventBase> = (event: E) => void;

/** For callers that do not care. */
export const ignoreEvents = (): void => undefined;
