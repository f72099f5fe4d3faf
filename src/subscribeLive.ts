// A stage may finish during subscribe(): a listener that fails at once, a connection that closed
// before we looked. Its subscription is then already over, and keeping it (in a set of open
// connections, as the listener in force) would keep a dead handle that nothing removes. Every
// place that asked "did it complete while I was still subscribing?" asks it here.
import type { Observable, Observer, Subscription } from './rx';

/**
 * Subscribes `observer` to `source`: the subscription while the source still runs, or undefined
 * when it completed or errored during subscribe() (the observer was told, as always).
 */
export function subscribeLive<T>(source: Observable<T>, observer: Partial<Observer<T>>): Subscription | undefined {
  let finished = false;
  const subscription = source.subscribe({
    next: (value) => observer.next?.(value),
    error: (err: unknown) => {
      finished = true;
      observer.error?.(err);
    },
    complete: () => {
      finished = true;
      observer.complete?.();
    },
  });
  return finished ? undefined : subscription;
}
