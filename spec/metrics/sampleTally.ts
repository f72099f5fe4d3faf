// A tally in a state that reaches every branch of the exposition: names and socket paths that
// need escaping or are not ASCII, an unnamed serve, every breakdown, spooled and idle serves,
// fractional, negative, huge and non-finite values. Time is fixed, so the render is too.
import type { CollectorStats } from '../../src/collector';
import { collectorFamilies } from '../../src/metrics/families';
import type { Family } from '../../src/metrics/exposition';
import { CollectorTally } from '../../src/metrics/tally';
import type { ServeStats } from '../../src/sink/stats';
import { makeServe } from '../source/support';

export const SAMPLE_NOW_MS = 1_700_000_000_123;

const serveStats = (socketPath: string, i: number): ServeStats => ({
  socketPath,
  name: undefined,
  recordsIn: 1_000 * i + 7,
  framesIn: 1_000 * i + 7,
  framesOut: 990 * i,
  bytesOut: i === 2 ? 2 ** 53 + 2 : 120_000 * i, // past the safe integers too
  requestsOk: 10 * i,
  requestsRetried: 0,
  requestsFailed: 0,
  dropped: i,
  lost: 0,
  refused: 0,
  queuedBytes: (i * 37) % 4_096,
  queuedFrames: 0,
  spoolBytes: i % 2 === 0 ? 65_536 * i : 0,
  spoolBatches: i % 2 === 0 ? 3 : 0,
  spoolOldestAgeMs: i % 2 === 0 ? 12_345 + i : 0,
});

/** The families of a tally with `serves` serves (the first few unusual) in a fixed state. */
export function sampleFamilies(serves = 12): Family[] {
  const tally = new CollectorTally(() => SAMPLE_NOW_MS);
  const paths = Array.from({ length: serves }, (_, i) =>
    i === 0 ? '/run/a "quoted"\\back\nslash.sock' : i === 1 ? '/run/ünï cödé €.sock' : `/run/pg/tenant-${i}.sock`,
  );
  tally.onServeSet(paths.map((p, i) => ({ ...makeServe(p, `db-${i}`, `t.${i}`), name: i === 3 ? undefined : i === 4 ? 'näme "x"' : `TENANT_${i}` })));
  const stats: CollectorStats = {
    recordsIn: 0, framesIn: 0, framesOut: 0, bytesOut: 0, requestsOk: 0, requestsRetried: 0, requestsFailed: 0,
    dropped: 0, lost: 0, refused: 0, queuedBytes: 0, queuedFrames: 0,
    spoolBytes: 123_456, spoolBatches: 9, spoolOldestAgeMs: 61_234, spoolBatchesSpooled: 40, spoolBatchesDrained: 31,
    serves: paths.map((p, i) => serveStats(p, i)),
    connections: serves,
  } as CollectorStats;
  tally.onStats(stats);
  const socket = (i: number): string => paths[i % paths.length]!;
  const ended = { records: 0, bytes: 1, duration_ms: 1, identified: true } as const;
  for (let i = 0; i < serves; i += 3) {
    tally.onEvent({ kind: 'connect', level: 'info', serve: undefined, socket: socket(i), identity: 'x', server_version: '15' });
    tally.onEvent({ kind: 'protocol_error', level: 'warn', serve: undefined, socket: socket(i), identity: undefined, code: i % 2 === 0 ? 'LOGFEBE_BAD_ORDER' : 'WHATEVER', reason: 'r', ...ended });
    tally.onEvent({ kind: 'connections_refused', level: 'warn', serve: undefined, socket: socket(i + 1), reason: 'open_file_limit', refused: i + 1, limit: 1 });
    tally.onEvent({ kind: 'post_failed', level: 'warn', serve: undefined, socket: socket(i + 2), code: 'LOGPLEX_HTTP_STATUS', status: 503, attempt: 1, reason: 'r' } as never);
    tally.onEvent({ kind: 'batch_lost', level: 'error', serve: undefined, socket: socket(i), frames: 7, reason: 'max_age', code: 'C', status: undefined, attempts: 1 });
  }
  tally.onEvent({ kind: 'spool_failed', level: 'error', op: 'append', code: 'E', reason: 'r' } as never);
  tally.onEvent({ kind: 'spool_full', level: 'warn' } as never);
  tally.serveSetAccepts = 3;
  tally.acceptedAtSeconds = 1_699_999_000.5;
  const listening = new Set(paths.filter((_, i) => i % 4 !== 1));
  return collectorFamilies({
    tally,
    readiness: () => ({ ready: false, reason: 'x' }),
    isListening: (s) => listening.has(s),
    version: '9.9.9',
    renders: () => 41,
    scrapeConnections: () => -1,
  });
}

/** The render's text with the one part that depends on the Node.js running it made fixed. */
export const withoutNodeVersion = (text: string): string => text.split(`node_version="${process.version}"`).join('node_version="NODE"');
