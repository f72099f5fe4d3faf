// The default scheduler of timers that must never be what keeps the process alive (the spool's
// sync, a refusal report's interval, the daemon's repeat windows): rxjs's async scheduler, whose
// timers are unref'd. Each stage takes an injected scheduler for all its timers (a
// VirtualTimeScheduler in tests); this is only what it falls back to.
//
// rxjs has no option for unref'd timers, and its timer provider is process-wide (setting it would
// change every rxjs timer of the process, an embedder's too), so an action of our own asks for its
// timer as rxjs's does and unrefs it. spec/package/internals.spec.ts checks these two deep modules.
import type * as Rx from 'rxjs';
import { AsyncAction } from 'rxjs/internal/scheduler/AsyncAction';
import { AsyncScheduler } from 'rxjs/internal/scheduler/AsyncScheduler';
import type { TimerHandle } from 'rxjs/internal/scheduler/timerHandle';

class UnrefAction<T> extends AsyncAction<T> {
  protected override requestAsyncId(scheduler: AsyncScheduler, id?: TimerHandle, delay?: number): TimerHandle {
    const handle = super.requestAsyncId(scheduler, id, delay);
    if (typeof handle === 'object') handle.unref();
    return handle;
  }
}

/** A scheduler like rxjs's asyncScheduler whose pending timers do not keep node running. */
export function unrefScheduler(): Rx.SchedulerLike {
  return new AsyncScheduler(UnrefAction);
}
