// Bounds of our own log (stderr) and of the way out, in one place. Any local user can connect to a serve's socket
// and choose what we print (an identity, a version string, bytes that fail to decode), and can
// do it a hundred times a second: unbounded, a storm of 1 MiB identities wrote hundreds of MB to
// stderr and, with stderr on a pipe nobody read, held the daemon past SIGTERM (docs/benchmarks.md,
// *Hostile peers*).

export interface LogOptions {
  readonly maxFieldChars: number; // longest value printed; longer ones are cut and say their length
  readonly maxErrorChars: number; // the same for `error`, which holds up to 20 serves.new problems
  readonly repeatWindowMs: number; // per serve and reason, at most one line this often (the rest counted)
  readonly maxRepeatKeys: number; // serve × reason pairs tracked at once; beyond, counted per kind
  readonly maxQueuedBytes: number; // lines waiting for a slow stderr; past this, ours are dropped and counted
}

export const DEFAULT_LOG_OPTIONS: LogOptions = {
  // Enough for any identity, socket path or reason a person would write; a 1 MiB identity is
  // ~5,000 times that.
  maxFieldChars: 200,
  // 20 problems of ~100 characters each (values in them are quoted to 8 characters).
  maxErrorChars: 4000,
  // A storm shows as one line per serve and reason per 10 s: seen at once, never a flood.
  repeatWindowMs: 10_000,
  // 10,000 serves each with a storm of two kinds of error; a key is ~200 bytes: ~4 MB at most.
  maxRepeatKeys: 20_000,
  // ~5,000 ordinary lines: minutes of a normal log, seconds of a storm. Bounded so that a
  // stderr nobody reads costs at most this much memory.
  maxQueuedBytes: 1 << 20,
};

/**
 * After SIGTERM, how long past --shutdown-timeout the process may take before it exits anyway
 * (exit code 1). Stopping is delivery (bounded by the timeout) plus closing the serve database
 * and the sockets, which takes milliseconds; a second is room for a loaded machine. Whatever
 * still holds the process then (a serves.new read that never returns, a stderr nobody reads)
 * is abandoned.
 */
export const EXIT_GRACE_MS = 1000;

/**
 * How long the collector must have said nothing, after start-up, before start-up counts as over
 * and its garbage is given back (v8Tuning.ts): a serve set is applied in slices with the event
 * loop given back between them, each serve saying `listening`, so start-up ends with a pause.
 */
export const START_UP_QUIET_MS = 1000;
