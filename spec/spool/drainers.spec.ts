// SpoolDrainers: one drainer per spool, started again when a batch landed while the last one was
// finishing, and not spinning on a spool whose pending count it cannot drain.
import { of, Subject, type Observable } from 'rxjs';
import { Secret } from '../../src/secret';
import { SpoolDrainers } from '../../src/spool/drain';
import type { SpooledBatch } from '../../src/spool/format';
import type { AppendOutcome, ServeSpool, SpoolCounts, SpoolEntry } from '../../src/spool/store';

const batch: SpooledBatch = {
  serve: { socketPath: '/run/a.sock', identity: 'i', name: undefined, target: { url: 'http://127.0.0.1:1/', user: 'token', token: new Secret('t') } },
  body: Buffer.from('x'),
  gzipped: false,
  frameCount: 1,
  logFrames: 1,
  dropCount: 0,
  lostCount: 0,
  createdAtMs: 0,
};

/** A spool whose next() answers are handed out by the test, one Subject per call. */
class ScriptedSpool implements ServeSpool {
  readonly socketPath = '/run/a.sock';
  pending = 1;
  readonly nexts: Subject<SpoolEntry | undefined>[] = [];
  append(): Observable<AppendOutcome> {
    return of('spooled');
  }
  next(): Observable<SpoolEntry | undefined> {
    const answer = new Subject<SpoolEntry | undefined>();
    this.nexts.push(answer);
    return answer;
  }
  ack(): Observable<void> {
    this.pending -= 1;
    return of(undefined);
  }
  counts(): SpoolCounts {
    return { bytes: 0, batches: this.pending, oldestMs: undefined };
  }
}

const answer = (s: Subject<SpoolEntry | undefined>, entry: SpoolEntry | undefined): void => {
  s.next(entry);
  s.complete();
};

describe('SpoolDrainers', () => {
  it('runs one drainer per spool, and starts again for a batch that landed while it was finishing', () => {
    const spool = new ScriptedSpool();
    const posted: SpooledBatch[] = [];
    const started: string[] = [];
    const drainers = new SpoolDrainers((b) => {
      posted.push(b);
      return of(undefined);
    }, { started: () => started.push('start'), stopped: () => started.push('stop') });
    drainers.kick(spool);
    drainers.kick(spool); // already running: no second drainer
    expect(spool.nexts).toHaveLength(1);
    // The drainer asked for the next batch before the append landed; the append's kick comes
    // while it is still running, then the answer "nothing" arrives.
    answer(spool.nexts[0]!, undefined);
    // It ended and, kicked meanwhile, started again: this time the batch is there.
    expect(spool.nexts).toHaveLength(2);
    answer(spool.nexts[1]!, { batch });
    answer(spool.nexts[2]!, undefined);
    expect(posted).toEqual([batch]);
    expect(spool.pending).toBe(0);
    expect(drainers.draining).toBe(0);
    expect(started).toEqual(['start', 'stop', 'start', 'stop']);
  });

  it('does not spin on a spool that says it has batches but hands none out', () => {
    const spool = new ScriptedSpool();
    spool.pending = 3; // an ack the disk refused, say
    const drainers = new SpoolDrainers(() => of(undefined));
    drainers.kick(spool);
    answer(spool.nexts[0]!, undefined);
    expect(spool.nexts).toHaveLength(1);
    expect(drainers.draining).toBe(0);
  });

  it('stop() ends every drainer and takes no more kicks', () => {
    const spool = new ScriptedSpool();
    const drainers = new SpoolDrainers(() => of(undefined));
    drainers.kick(spool);
    drainers.stop();
    expect(drainers.draining).toBe(0);
    drainers.kick(spool);
    expect(spool.nexts).toHaveLength(1);
  });
});
