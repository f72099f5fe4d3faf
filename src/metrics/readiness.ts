// What /readyz answers: ready once the serve database is loaded and every serve in force is
// listening; otherwise the reason, naming the serves (by name and socket path, never by token).
// Fed by the collector's events and serve set, so it costs nothing on the record path.
import type { CollectorEvent } from '../collector';
import type { ServeSet } from '../servedb/serve';
import { eachInSteps, runToEnd, type Steps } from '../servedb/steps';

export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

/** How many not-listening serves a reason names; the rest are counted. */
const NAMED_IN_REASON = 5;

export class ReadinessTracker {
  #phase: 'starting' | 'running' | 'stopping' | 'stopped' = 'starting';
  #serves: ServeSet = [];
  readonly #listening = new Set<string>(); // socket paths listening right now
  readonly #failures = new Map<string, string>(); // socket path → the last listen_error code

  onEvent(event: CollectorEvent): void {
    switch (event.kind) {
      case 'started':
        if (this.#phase === 'starting') this.#phase = 'running';
        break;
      case 'stopping':
        this.#phase = 'stopping';
        break;
      case 'stopped':
        this.#phase = 'stopped';
        break;
      case 'listening':
        this.#listening.add(event.socket);
        this.#failures.delete(event.socket);
        break;
      case 'stopped_listening':
        this.#listening.delete(event.socket);
        break;
      case 'listen_error':
        this.#listening.delete(event.socket);
        this.#failures.set(event.socket, event.code);
        break;
      default:
        break;
    }
  }

  onServeSet(set: ServeSet): void {
    runToEnd(this.serveSetInSteps(set));
  }

  /** The serve set in force becomes `set` at once; failures of serves it no longer has are forgotten in steps. */
  *serveSetInSteps(set: ServeSet): Steps<void> {
    this.#serves = set;
    if (this.#failures.size === 0) return;
    const paths = new Set<string>();
    yield* eachInSteps(set, (s) => void paths.add(s.socketPath));
    yield;
    yield* eachInSteps([...this.#failures.keys()], (path) => void (paths.has(path) || this.#failures.delete(path))); // bounded by the set
  }

  /** Whether every serve of the set in force is listening (the metrics' serve_listening gauge). */
  isListening(socketPath: string): boolean {
    return this.#listening.has(socketPath);
  }

  readiness(): Readiness {
    if (this.#phase === 'starting') return { ready: false, reason: 'serve database not loaded yet' };
    if (this.#phase === 'stopping') return { ready: false, reason: 'stopping' };
    if (this.#phase === 'stopped') return { ready: false, reason: 'stopped' };
    const down = this.#serves.filter((s) => !this.#listening.has(s.socketPath));
    if (down.length === 0) return { ready: true };
    const named = down.slice(0, NAMED_IN_REASON).map((s) => {
      const why = this.#failures.get(s.socketPath);
      return `${s.name ?? '(unnamed)'} (${s.socketPath})${why === undefined ? ' not listening yet' : `: ${why}`}`;
    });
    const more = down.length > NAMED_IN_REASON ? `, and ${down.length - NAMED_IN_REASON} more` : '';
    return { ready: false, reason: `${down.length} of ${this.#serves.length} serves not listening: ${named.join(', ')}${more}` };
  }
}
