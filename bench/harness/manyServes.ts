// A collector stand-in with as many serves as asked, for what only the metrics endpoint costs:
// the metrics read nothing but the Collector interface's streams, so these Subjects feed them
// exactly what a real collector with that many busy serves would (a serve set, stats snapshots
// with every serve's counters, events for the breakdowns) without binding thousands of sockets.
import { BehaviorSubject, Subject } from 'rxjs';
import type { Collector, CollectorEvent, CollectorStats } from '../../src/collector';
import { Secret } from '../../src/secret';
import type { ServeSet } from '../../src/servedb/serve';
import type { ServeStats } from '../../src/sink/stats';

export interface ManyServes {
  readonly collector: Collector;
  readonly serveSet: ServeSet;
  /** Emits the set, `started`, every serve listening, a stats snapshot and events for the breakdowns. */
  warmUp(): void;
  /** One more stats snapshot with every serve's counters moved on (as the sink emits per batch). */
  tick(): void;
}

export function manyServes(count: number, socketDir = '/run/pg-logplexcollector'): ManyServes {
  const events = new Subject<CollectorEvent>();
  const serveSets = new BehaviorSubject<ServeSet>([]);
  const serveSet: ServeSet = Array.from({ length: count }, (_, i) => ({
    identity: `db-${i}`,
    socketPath: `${socketDir}/tenant-${String(i).padStart(5, '0')}.sock`,
    name: `TENANT_${i}`,
    target: { url: 'https://logplex.example.com/logs', user: 'token', token: new Secret(`t.bench-${i}`) },
  }));
  let round = 0;
  const snapshot = (): CollectorStats => {
    round += 1;
    const serves: ServeStats[] = serveSet.map((s, i) => ({
      socketPath: s.socketPath,
      name: s.name,
      recordsIn: 1_000 * round + i,
      framesIn: 1_000 * round + i,
      framesOut: 990 * round + i,
      bytesOut: 120_000 * round + i,
      requestsOk: 10 * round,
      requestsRetried: 0,
      requestsFailed: 0,
      dropped: i % 10 === 0 ? round : 0,
      lost: 0,
      refused: 0,
      queuedBytes: (i * 37) % 4_096,
      queuedFrames: i % 16,
      spoolBytes: i % 50 === 0 ? 65_536 : 0,
      spoolBatches: i % 50 === 0 ? 3 : 0,
      spoolOldestAgeMs: i % 50 === 0 ? 12_000 : 0,
    }));
    const sum = (key: 'recordsIn' | 'framesOut' | 'bytesOut' | 'requestsOk' | 'dropped' | 'queuedBytes' | 'spoolBytes' | 'spoolBatches'): number =>
      serves.reduce((n, s) => n + s[key], 0);
    return {
      recordsIn: sum('recordsIn'),
      framesIn: sum('recordsIn'),
      framesOut: sum('framesOut'),
      bytesOut: sum('bytesOut'),
      requestsOk: sum('requestsOk'),
      requestsRetried: 0,
      requestsFailed: 0,
      dropped: sum('dropped'),
      lost: 0,
      refused: 0,
      queuedBytes: sum('queuedBytes'),
      queuedFrames: 0,
      spoolBytes: sum('spoolBytes'),
      spoolBatches: sum('spoolBatches'),
      spoolOldestAgeMs: 12_000,
      serves,
      connections: count,
    };
  };
  const stats = new BehaviorSubject<CollectorStats>(snapshot());
  const collector: Collector = {
    record$: new Subject<never>().asObservable(),
    event$: events.asObservable(),
    stats$: stats.asObservable(),
    serveSet$: serveSets.asObservable(),
    start: () => Promise.resolve(),
    reload: () => undefined,
    stop: () => {
      events.complete();
      stats.complete();
      serveSets.complete();
      return Promise.resolve();
    },
  };
  return {
    collector,
    serveSet,
    warmUp: () => {
      serveSets.next(serveSet);
      events.next({ kind: 'serves_accepted', level: 'info', dir: '/srv/db', file: 'serves.new', serves: count, added: count, removed: 0, updated: 0, changed: true, reason: 'start' });
      events.next({ kind: 'started', level: 'info', version: 'bench', serves: count, serve_db: '/srv/db', open_files_limit: 65_536, fd_reserve: 256 });
      serveSet.forEach((s, i) => {
        events.next({ kind: 'listening', level: 'info', serve: s.name, socket: s.socketPath, mode: '0777', group: 0 });
        events.next({ kind: 'connect', level: 'info', serve: s.name, socket: s.socketPath, identity: s.identity, server_version: '15.20' });
        if (i % 20 === 0) events.next({ kind: 'post_failed', level: 'warn', serve: s.name, socket: s.socketPath, code: 'LOGPLEX_HTTP_STATUS', status: 503, cause: undefined, attempt: 1, will_retry: true, retry_in_ms: 100, frames: 10 });
        if (i % 100 === 0) {
          const totals = { records: 0, bytes: 10, duration_ms: 5, identified: false };
          events.next({ kind: 'protocol_error', level: 'warn', serve: s.name, socket: s.socketPath, identity: undefined, code: 'LOGFEBE_HANDSHAKE_TIMEOUT', reason: 'x', ...totals });
        }
      });
      stats.next(snapshot());
    },
    tick: () => stats.next(snapshot()),
  };
}
