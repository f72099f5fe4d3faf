// "The first at once, then at most one per interval, with the count of what was held back": how
// the collector keeps a storm from becoming a storm of its own (refused connections, repeated log
// lines, listen failures that go on, stats snapshots). The first value passes at once and opens an
// interval; values within it are held (counted, the latest kept); when it ends, the latest held one
// passes with the count, and another interval opens. An interval that held nothing closes: the next
// value passes at once again. Every timer runs on the given scheduler (virtual time in tests).
//
// A class rather than an operator: its callers are called (a refusal, a log line, a stats change),
// not subscribed, and a Subject per serve to feed an operator cost more than the throttle itself.
// marbles/throttle.marbles.ts draws it as an operator over this very class.
import type { SchedulerLike, Subscription } from './rx';

/** What passes: a value let through at once (`held` 0), or the latest of those an interval held. */
export interface Throttled<T> {
  readonly value: T;
  readonly held: number; // how many values the interval held back, this one included; 0 when let through at once
  readonly since: number; // scheduler time of the first value held (of this one when held is 0)
}

export class Throttle<T> {
  #interval: Subscription | undefined; // while an interval is open
  #held = 0;
  #since = 0;
  #latest: T | undefined;

  /**
   * `pass` is called for each value let through. `quiet` is called when an interval ends having
   * held nothing: the throttle is idle again (a keyed owner may forget it). An `intervalMs` of 0
   * or less lets every value through at once.
   */
  constructor(
    private readonly intervalMs: number,
    private readonly scheduler: SchedulerLike,
    private readonly pass: (throttled: Throttled<T>) => void,
    private readonly quiet: () => void = () => undefined,
  ) {}

  /** True while an interval is open (a value now would be held). */
  get open(): boolean {
    return this.#interval !== undefined;
  }

  offer(value: T): void {
    const now = this.scheduler.now();
    if (this.#interval !== undefined) {
      if (this.#held === 0) this.#since = now;
      this.#held += 1;
      this.#latest = value;
      return;
    }
    if (this.intervalMs > 0) this.#openInterval();
    this.pass({ value, held: 0, since: now });
  }

  /** Lets what is held through now and closes the interval: the next value passes at once. */
  flush(): void {
    this.#closeInterval();
    this.#passHeld();
  }

  /** Forgets what is held and closes the interval, saying nothing. */
  dispose(): void {
    this.#closeInterval();
    this.#held = 0;
    this.#latest = undefined;
  }

  #openInterval(): void {
    this.#interval = this.scheduler.schedule(() => {
      this.#interval = undefined;
      if (this.#held === 0) return this.quiet();
      this.#openInterval(); // before passing: a value offered from `pass` is held, not let through
      this.#passHeld();
    }, this.intervalMs);
  }

  #closeInterval(): void {
    this.#interval?.unsubscribe();
    this.#interval = undefined;
  }

  #passHeld(): void {
    if (this.#held === 0) return;
    const throttled: Throttled<T> = { value: this.#latest as T, held: this.#held, since: this.#since };
    this.#held = 0;
    this.#latest = undefined;
    this.pass(throttled);
  }
}

/**
 * A throttle per key (a serve and reason, say), made at the key's first value and forgotten after
 * an interval that held nothing: a key costs nothing once its storm is over.
 */
export class KeyedThrottle<K, T> {
  readonly #throttles = new Map<K, Throttle<T>>();

  constructor(
    private readonly intervalMs: number,
    private readonly scheduler: SchedulerLike,
    private readonly pass: (key: K, throttled: Throttled<T>) => void,
  ) {}

  /** Keys with an interval open. */
  get size(): number {
    return this.#throttles.size;
  }

  has(key: K): boolean {
    return this.#throttles.has(key);
  }

  offer(key: K, value: T): void {
    const known = this.#throttles.get(key);
    if (known !== undefined) return known.offer(value);
    const throttle = new Throttle<T>(this.intervalMs, this.scheduler, (throttled) => this.pass(key, throttled), () => this.#throttles.delete(key));
    throttle.offer(value);
    if (throttle.open) this.#throttles.set(key, throttle);
  }

  /** Lets every key's held value through now and forgets every key (at shutdown). */
  flush(): void {
    const throttles = [...this.#throttles.values()];
    this.#throttles.clear();
    for (const throttle of throttles) throttle.flush();
  }
}
