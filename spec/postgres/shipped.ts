// What reached the logplex stand-in, regrouped by record: every frame's `[NAME] [SEQ-N]` tag and
// `postgres.<pid>` PROCID name the record (pid, SeqNum) and its line N. Each frame is also written
// out as `heroku logs` prints it, for pgBadger's logplex input.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Observable, Subscription } from 'rxjs';
import type { LogplexFrame } from '../../src/tools/logplexBody';
import { herokuLogsLine, type ReceivedBatch } from '../../src/tools/logplexStandIn';

const TAG = /^\[([^\]]*)\] \[(\d+)-(\d+)\] /;
const PROCID = /^postgres\.(\d+)$/;
const KEEP_ODDITIES = 20; // enough to see what went wrong, bounded whatever did

/** One record's frames, by line number N (index N-1); `undefined` where a frame never came. */
export interface ShippedRecord {
  readonly pid: number;
  readonly seq: number;
  readonly frames: (string | undefined)[]; // each frame's whole MSG, tag included
}

export const recordKey = (pid: number, seq: number): string => `${pid}:${seq}`;

export class ShippedLog {
  readonly records = new Map<string, ShippedRecord>();
  readonly names = new Map<string, number>(); // tag NAME → frames
  readonly oddities: string[] = []; // frames that name no record, or a line twice (first few)
  frames = 0;
  duplicateFrames = 0; // a (pid, SeqNum, N) seen again: delivered more than once
  untaggedFrames = 0; // no `[NAME] [SEQ-N]` tag or no `postgres.<pid>` (e.g. our own L10 notices)
  maxFrameBytes = 0; // largest syslog message (the frame's length prefix)
  readonly #out: WriteStream;
  readonly #subscription: Subscription;

  constructor(received$: Observable<ReceivedBatch>, herokuLogPath: string, sourceName: string) {
    this.#out = createWriteStream(herokuLogPath);
    this.#subscription = received$.subscribe((batch) => {
      let text = '';
      for (const frame of batch.frames) {
        this.#add(frame);
        text += `${herokuLogsLine(frame, sourceName)}\n`;
      }
      this.#out.write(text);
    });
  }

  #odd(why: string, frame: LogplexFrame): void {
    if (this.oddities.length < KEEP_ODDITIES) this.oddities.push(`${why}: ${frame.procId} ${frame.msg.slice(0, 200)}`);
  }

  #add(frame: LogplexFrame): void {
    this.frames++;
    if (frame.bytes > this.maxFrameBytes) this.maxFrameBytes = frame.bytes;
    const tag = TAG.exec(frame.msg);
    const pid = PROCID.exec(frame.procId);
    if (tag === null || pid === null) {
      this.untaggedFrames++;
      this.#odd('untagged', frame);
      return;
    }
    const name = tag[1] as string;
    this.names.set(name, (this.names.get(name) ?? 0) + 1);
    const key = recordKey(Number(pid[1]), Number(tag[2]));
    let record = this.records.get(key);
    if (record === undefined) {
      record = { pid: Number(pid[1]), seq: Number(tag[2]), frames: [] };
      this.records.set(key, record);
    }
    const n = Number(tag[3]);
    if (n < 1) {
      this.#odd('line 0', frame);
      return;
    }
    if (record.frames[n - 1] !== undefined) {
      this.duplicateFrames++;
      this.#odd('again', frame);
      return;
    }
    record.frames[n - 1] = frame.msg;
  }

  /** Stops listening and flushes the heroku-logs file. */
  close(): Promise<void> {
    this.#subscription.unsubscribe();
    return new Promise((resolve, reject) => this.#out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}
