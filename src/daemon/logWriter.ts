// Our log's way out: a bounded queue in front of stderr. When stderr is a pipe or a socket,
// Node writes to it asynchronously and keeps whatever the reader has not taken yet in memory,
// without limit: with a pipe nobody read, a storm of 100 bad connections grew the daemon past
// 330 MB, and the writes still pending kept it alive long after SIGTERM. So we hand stderr a
// line only while less than maxQueuedBytes wait there; past that our own lines are dropped and
// counted, and when stderr has taken every line handed to it, one line says how many went
// missing: `event=log_dropped count=1234 since=…`. Nothing else waits on stderr: PostgreSQL's
// sockets and the posts to logplex go on whatever becomes of our log.
// "Taken" is counted by write callbacks, not by 'drain': a stream emits 'drain' only after a
// write filled it to its highWaterMark, which Node 22 raised to 64 KiB, as much as our own
// default bound, so the queue never got there and drops were never announced.
// (A file or a terminal as stderr is written synchronously by Node and never queues.)
import type { Writable } from 'node:stream';

/** Where lines go: process.stderr in the daemon, any Writable in tests. */
export type LogSink = Pick<Writable, 'write' | 'writableLength' | 'on'>;

export interface LogWriterOptions {
  readonly maxQueuedBytes: number;
  /** The line that announces `count` dropped lines, the first at `since`. */
  readonly dropped: (count: number, since: Date) => string;
}

export interface LogWriter {
  write(line: string): void;
  /** Resolves once the sink has taken every line (announcing drops first), or after `timeoutMs`. */
  drained(timeoutMs: number): Promise<void>;
}

export function createLogWriter(sink: LogSink, options: LogWriterOptions): LogWriter {
  let dropped = 0;
  let since = new Date(0);
  let broken = false; // the reader went away (EPIPE): nothing we write can arrive any more
  let unwritten = 0; // lines handed to the sink whose write has not completed
  const waiters = new Set<() => void>();

  const send = (bytes: Buffer): void => {
    unwritten += 1;
    sink.write(bytes, written);
  };
  function written(): void {
    unwritten -= 1;
    if (unwritten > 0) return;
    announce();
    if (unwritten > 0) return; // the announcement is on its way: wait for it too
    for (const resolve of waiters) resolve();
  }
  const announce = (): void => {
    if (dropped === 0 || broken) return;
    const line = options.dropped(dropped, since);
    dropped = 0;
    send(Buffer.from(`${line}\n`, 'utf8')); // small, and the queue has just emptied
  };
  // Without a listener, an EPIPE on stderr would end the process; our log is not worth that.
  sink.on('error', () => {
    broken = true;
    for (const resolve of waiters) resolve();
  });

  return {
    write(line) {
      const bytes = Buffer.from(`${line}\n`, 'utf8');
      if (broken || sink.writableLength + bytes.length > options.maxQueuedBytes) {
        if (dropped === 0) since = new Date(); // the wall clock: a time printed in the log, data rather than a timer
        dropped += 1;
        return;
      }
      send(bytes);
    },
    drained(timeoutMs) {
      if (unwritten === 0) announce();
      if (unwritten === 0 || broken) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        };
        // Real time, not the collector's scheduler: this bounds the daemon's own exit after the
        // collector has stopped (its scheduler has nothing left to run), and the process must end
        // on the wall clock whatever an embedder's scheduler does. Kept alive on purpose: the exit
        // waits for it.
        const timer = setTimeout(done, timeoutMs);
        waiters.add(done);
      });
    },
  };
}
