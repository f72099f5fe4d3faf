// A logplex on the virtual clock for the sink's marbles: a PostTransport whose answers settle in
// TestScheduler time, and posts shown as `token:messages` (the stub formatter's frames; an L10
// notice as `L10 <count> <kind>`).
import { gunzipSync } from 'node:zlib';
import { Subject, type Observable } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { PostError, type PostResult, type PostTransport, type PreparedPost } from '../../src/sink';
import { msgOf, parseFrames } from '../../spec/sink/support';

/** `t.bad:a,b` for a post of records a and b with token t.bad; notices as `L10 2 lost`. */
export function describePost(post: PreparedPost): string {
  const token = Buffer.from((post.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().replace(/^token:/, '');
  const body = post.headers['content-encoding'] === 'gzip' ? gunzipSync(post.body) : post.body;
  const messages = parseFrames(body).map((frame) => {
    const m = /^Error L10 \(output buffer overflow\): (\d+) messages (\w+) since/.exec(msgOf(frame));
    return m === null ? msgOf(frame) : `L10 ${m[1]} ${m[2]}`;
  });
  return `${token}:${messages.join(',')}`;
}

/** Settles with `settle()`'s outcome `delayMs` of virtual time after then() is called. */
function later<T>(scheduler: TestScheduler, delayMs: number, settle: () => { ok: T } | { error: unknown }): PromiseLike<T> {
  return {
    then<A = T, B = never>(onOk?: ((value: T) => A | PromiseLike<A>) | null, onError?: ((reason: unknown) => B | PromiseLike<B>) | null): PromiseLike<A | B> {
      scheduler.schedule(() => {
        const outcome = settle();
        if ('ok' in outcome) onOk?.(outcome.ok);
        else onError?.(outcome.error);
      }, delayMs);
      return new Promise<A | B>(() => undefined); // nothing chains on it
    },
  };
}

const settled: PromiseLike<void> = {
  then<A = void, B = never>(onOk?: ((value: void) => A | PromiseLike<A>) | null): PromiseLike<A | B> {
    onOk?.(undefined);
    return new Promise<A | B>(() => undefined);
  },
};

/** A logplex answering the i-th post with `statusOf(i)` one millisecond after it is sent. */
export function virtualLogplex(scheduler: TestScheduler, statusOf: (i: number) => number): { transport: PostTransport; posts: Observable<string> } {
  const posts = new Subject<string>();
  let sent = 0;
  const transport: PostTransport = {
    send: (post) => {
      const status = statusOf(sent++);
      posts.next(describePost(post));
      return later<PostResult>(scheduler, 1, () =>
        status < 300
          ? { ok: { status, bytes: post.body.length } }
          : { error: new PostError('LOGPLEX_HTTP_STATUS', `logplex answered ${status}`, { status, transient: status >= 500 }) },
      );
    },
    close: () => settled,
    destroy: () => settled,
  };
  return { transport, posts };
}

