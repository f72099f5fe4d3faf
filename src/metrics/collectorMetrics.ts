// The collector's metrics in a private prom-client Registry (embedders' own metrics stay in
// theirs), fed from what the collector already publishes: stats$ snapshots (one per batch formed
// or settled, never per record), events and the serve set; counters are read out at scrape time.
// Serves are labelled by name and socket path only: nothing here ever sees a serve's target.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Subscription } from '../rx';
import type { Collector, CollectorEvent, CollectorStats } from '../collector';
import type { ServeSet } from '../servedb/serve';
import { SERVES_LOADED } from '../servedb/store';
import { DEFAULT_METRICS_OPTIONS, type MetricsOptions } from './options';
import { observePostLatency } from './postLatency';
import { ReadinessTracker, type Readiness } from './readiness';

const PREFIX = 'pg_logplexcollector_';
const SERVE_LABELS = ['serve', 'socket'] as const;
type ServeLabels = Record<(typeof SERVE_LABELS)[number], string>;

/** The sink counters exported per serve (queuedBytes is a gauge, read from the latest snapshot). */
const COUNTED = ['recordsIn', 'framesOut', 'bytesOut', 'requestsOk', 'dropped', 'lost'] as const;
type Counted = (typeof COUNTED)[number];
type Totals = Record<Counted, number>;
const zeroTotals = (): Totals => ({ recordsIn: 0, framesOut: 0, bytesOut: 0, requestsOk: 0, dropped: 0, lost: 0 });

/** One serve's running totals, by socket path. */
interface ServeEntry {
  name: string; // the serve's latest name ('' when it has none)
  seen: Totals; // its sink counters in the last snapshot (zero while it has no lane)
  total: Totals; // monotonic sums of what the snapshots added
  failedPosts: Map<string, number>; // post attempts that failed, by status label
  connections: number; // identified PostgreSQL connections open now
}

export interface CollectorMetrics {
  /** The private registry: serve `registry.metrics()` yourself, or merge it into yours. */
  readonly registry: Registry;
  /** What /readyz answers: the serve database is loaded and every serve in force is listening. */
  readiness(): Readiness;
  /** Stops following the collector (it also stops by itself when the collector has stopped). */
  close(): void;
}

/** Status label of a failed post: logplex's HTTP status, or why there was none. */
function failedStatus(code: string, status: number | undefined): string {
  if (status !== undefined) return String(status);
  return code.replace(/^LOGPLEX_/, '').toLowerCase(); // timeout, connection, aborted, request_invalid
}

/**
 * Metrics of `collector`. Call before `collector.start()`: events are hot, and the ones this
 * counts (listening, serves_accepted, ...) would be missed.
 */
export function collectorMetrics(
  collector: Collector,
  input: Partial<Pick<MetricsOptions, 'processMetrics' | 'postLatencyBuckets'>> = {},
): CollectorMetrics {
  const options = { ...DEFAULT_METRICS_OPTIONS, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) };
  const registry = new Registry();
  const readiness = new ReadinessTracker();
  const serves = new Map<string, ServeEntry>(); // bounded: the set in force plus serves with a live lane
  let inForce = new Set<string>();
  let latest: CollectorStats | undefined;
  let origins = new Set<string>();
  let reloads = 0;
  let rejects = 0;
  let lastAcceptedSeconds = 0;

  const entry = (socketPath: string, name: string | undefined): ServeEntry => {
    let e = serves.get(socketPath);
    if (e === undefined) {
      e = { name: name ?? '', seen: zeroTotals(), total: zeroTotals(), failedPosts: new Map(), connections: 0 };
      serves.set(socketPath, e);
    } else if (name !== undefined) {
      e.name = name;
    }
    return e;
  };
  const labels = (socketPath: string, e: ServeEntry): ServeLabels => ({ serve: e.name, socket: socketPath });
  const prune = (live: ReadonlySet<string>): void => {
    for (const [path, e] of serves) if (!inForce.has(path) && !live.has(path) && e.connections <= 0) serves.delete(path);
  };

  // Per snapshot: fold what each serve's counters added since the last one into its totals. A
  // serve missing from a snapshot has no lane (retired after going quiet; its counts moved to the
  // sink's totals): its next lane counts from zero again, so `seen` restarts at zero.
  const onStats = (stats: CollectorStats): void => {
    latest = stats;
    const live = new Set<string>();
    for (const s of stats.serves) {
      live.add(s.socketPath);
      const e = entry(s.socketPath, s.name);
      for (const key of COUNTED) {
        const now = s[key];
        const before = e.seen[key];
        e.total[key] += now >= before ? now - before : now;
        e.seen[key] = now;
      }
    }
    if (live.size !== serves.size) {
      for (const [path, e] of serves) if (!live.has(path)) e.seen = zeroTotals();
      prune(live);
    }
  };

  const onServeSet = (set: ServeSet): void => {
    readiness.onServeSet(set);
    inForce = new Set(set.map((s) => s.socketPath));
    for (const s of set) entry(s.socketPath, s.name); // series from the start, at zero
    origins = new Set(set.map((s) => new URL(s.target.url).origin));
    prune(new Set(latest?.serves.map((s) => s.socketPath)));
  };

  const onEvent = (event: CollectorEvent): void => {
    readiness.onEvent(event);
    switch (event.kind) {
      case 'connect':
        entry(event.socket, event.serve).connections += 1;
        break;
      case 'disconnect':
      case 'identity_mismatch':
      case 'protocol_error':
        if (event.identified) entry(event.socket, event.serve).connections -= 1; // as the collector counts them
        break;
      case 'post_failed': {
        const failed = entry(event.socket, event.serve).failedPosts;
        const status = failedStatus(event.code, event.status);
        failed.set(status, (failed.get(status) ?? 0) + 1);
        break;
      }
      case 'serves_accepted':
        if (event.file === 'serves.loaded') break; // the set start-up began from: `started` dates it
        reloads += 1;
        lastAcceptedSeconds = Date.now() / 1000;
        break;
      case 'serves_rejected':
        rejects += 1;
        break;
      case 'started':
        // A start from serves.loaded alone accepts nothing new: the set in force was accepted
        // when serves.loaded was written, which is what its mtime says.
        if (lastAcceptedSeconds === 0) lastAcceptedSeconds = loadedAt(event.serve_db);
        break;
      default:
        break;
    }
  };

  // Counters are refilled from the totals at each scrape (reset, then one inc per series).
  const perServeCounter = (name: string, help: string, key: Counted): void => {
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      labelNames: SERVE_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const [path, e] of serves) this.inc(labels(path, e), e.total[key]);
      },
    });
  };
  perServeCounter('records_received_total', 'Log records received from PostgreSQL.', 'recordsIn');
  perServeCounter('frames_sent_total', 'Log frames (lines, L10 notices included) in posts logplex accepted.', 'framesOut');
  perServeCounter('sent_bytes_total', 'Body bytes of posts logplex accepted, on the wire (after gzip).', 'bytesOut');
  perServeCounter('dropped_total', 'Log frames dropped at the buffer cap (announced to the tenant in L10 notices).', 'dropped');
  perServeCounter('lost_total', 'Log frames in batches given up after failed posts.', 'lost');
  new Counter({
    name: `${PREFIX}posts_total`,
    help: 'POST attempts to logplex by outcome: status "2xx" accepted; an HTTP status logplex answered; or timeout, connection, aborted, request_invalid when it did not answer.',
    labelNames: [...SERVE_LABELS, 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [path, e] of serves) {
        const l = labels(path, e);
        this.inc({ ...l, status: '2xx' }, e.total.requestsOk);
        for (const [status, n] of e.failedPosts) this.inc({ ...l, status }, n);
      }
    },
  });
  new Gauge({
    name: `${PREFIX}queued_bytes`,
    help: 'Frame bytes held for a serve right now: open batch, waiting, in flight or retrying (capped by the buffer cap).',
    labelNames: SERVE_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      const queued = new Map(latest?.serves.map((s) => [s.socketPath, s.queuedBytes]));
      for (const [path, e] of serves) this.set(labels(path, e), queued.get(path) ?? 0);
    },
  });
  new Gauge({
    name: `${PREFIX}connections`,
    help: 'PostgreSQL connections open right now (identified ones).',
    labelNames: SERVE_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const [path, e] of serves) this.set(labels(path, e), e.connections);
    },
  });
  new Gauge({
    name: `${PREFIX}serve_listening`,
    help: '1 when the serve is in force and its socket is listening, 0 when it is in force and not listening.',
    labelNames: SERVE_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const [path, e] of serves) if (inForce.has(path)) this.set(labels(path, e), readiness.isListening(path) ? 1 : 0);
    },
  });
  new Gauge({
    name: `${PREFIX}serves`,
    help: 'Serves in the serve set in force.',
    registers: [registry],
    collect() {
      this.set(inForce.size);
    },
  });
  new Counter({
    name: `${PREFIX}servedb_reloads_total`,
    help: 'serves.new files accepted (the start-up look included).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(reloads);
    },
  });
  new Counter({
    name: `${PREFIX}servedb_rejects_total`,
    help: 'serves.new files rejected (renamed to serves.rej, reason in last_error).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(rejects);
    },
  });
  new Gauge({
    name: `${PREFIX}servedb_last_accepted_timestamp_seconds`,
    help: 'Unix time the serve set in force was accepted (serves.loaded\'s mtime at start-up); 0 if none ever was.',
    registers: [registry],
    collect() {
      this.set(lastAcceptedSeconds);
    },
  });
  const latency = new Histogram({
    name: `${PREFIX}post_duration_seconds`,
    help: 'Time from a POST to logplex being issued to logplex\'s answer (posts that got one).',
    buckets: [...options.postLatencyBuckets],
    registers: [registry],
  });
  new Gauge({
    name: `${PREFIX}ready`,
    help: '1 when /readyz answers 200: the serve database is loaded and every serve is listening.',
    registers: [registry],
    collect() {
      this.set(readiness.readiness().ready ? 1 : 0);
    },
  });
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const subscriptions = new Subscription();
  const stopLatency = observePostLatency((origin) => origins.has(origin), (seconds) => latency.observe(seconds));
  subscriptions.add(stopLatency);
  subscriptions.add(collector.serveSet$.subscribe(onServeSet));
  subscriptions.add(collector.stats$.subscribe(onStats));
  subscriptions.add(collector.event$.subscribe({ next: onEvent, complete: stopLatency }));

  return {
    registry,
    readiness: () => readiness.readiness(),
    close: () => subscriptions.unsubscribe(),
  };
}

/** serves.loaded's mtime as unix seconds, 0 when there is none. Once, at start. */
function loadedAt(serveDbDir: string): number {
  try {
    return statSync(join(serveDbDir, SERVES_LOADED)).mtimeMs / 1000;
  } catch {
    return 0;
  }
}
