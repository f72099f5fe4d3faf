// Every family the collector exports (beside prom-client's latency histogram and process
// metrics), with its help text: the list an on-call engineer alerts on. Per-serve families carry
// `serve` (the serve's name, '' when it has none) and `socket` (its socket path); breakdowns add
// one label from a closed list (tally.ts).
import { labelBytes, listFamily, renderLabels, rowFamily, type Family, type FamilyType, type Series, type SeriesWriter } from './exposition';
import type { CollectorTally, ServeTally } from './tally';
import type { Readiness } from './readiness';

export const PREFIX = 'pg_logplexcollector_';

/** What the families read besides the tally. */
export interface FamilySources {
  readonly tally: CollectorTally;
  readonly readiness: () => Readiness;
  readonly isListening: (socket: string) => boolean;
  readonly version: string;
  readonly renders: () => number;
  readonly scrapeConnections: () => number;
}

const family = (name: string, type: FamilyType, help: string, series: () => Iterable<Series>): Family => listFamily(`${PREFIX}${name}`, type, help, series);
const one = (value: number): Iterable<Series> => [['', value]];

/** A family with a series per serve in force for which `has` holds (every one by default), read by `value`. */
function perServe(tally: CollectorTally, name: string, type: FamilyType, help: string, value: (s: ServeTally) => number, has?: (s: ServeTally) => boolean): Family {
  const write = (s: ServeTally, nameBytes: Buffer, out: SeriesWriter): void => {
    if (has === undefined || has(s)) out.series(nameBytes, s.labelBytes, value(s));
  };
  return rowFamily(`${PREFIX}${name}`, type, help, () => tally.serves(), write);
}

/** A per-serve breakdown: a series per serve and label value it has counted (none before the first). */
function perServeBy(tally: CollectorTally, name: string, help: string, label: string, counts: (s: ServeTally) => ReadonlyMap<string, number>, first?: readonly [value: string, count: (s: ServeTally) => number]): Family {
  // `label="value"` once per value: values come from closed lists (tally.ts), so this stays small.
  const extras = new Map<string, Buffer>();
  const extra = (value: string): Buffer => {
    let bytes = extras.get(value);
    if (bytes === undefined) {
      bytes = labelBytes([[label, value]]);
      extras.set(value, bytes);
    }
    return bytes;
  };
  const write = (s: ServeTally, nameBytes: Buffer, out: SeriesWriter): void => {
    if (first !== undefined) out.seriesWith(nameBytes, s.labelBytes, extra(first[0]), first[1](s));
    for (const [value, n] of counts(s)) out.seriesWith(nameBytes, s.labelBytes, extra(value), n);
  };
  return rowFamily(`${PREFIX}${name}`, 'counter', help, () => tally.serves(), write);
}

const spooled = (s: ServeTally): boolean => s.spoolBytes > 0 || s.spoolBatches > 0;

export function collectorFamilies(src: FamilySources): Family[] {
  const { tally } = src;
  const spool = (): { bytes: number; batches: number } => ({ bytes: tally.latest?.spoolBytes ?? 0, batches: tally.latest?.spoolBatches ?? 0 });
  const ageSeconds = (atMs: number): number => (atMs === 0 ? 0 : Math.max(0, tally.now() - atMs) / 1000);
  return [
    family('build_info', 'gauge', 'Always 1; the labels say which build runs: the package version and the Node.js version.', () => [
      [renderLabels([['version', src.version], ['node_version', process.version]]), 1],
    ]),
    family('ready', 'gauge', '1 when /readyz answers 200: the serve database is loaded and every serve is listening.', () => one(src.readiness().ready ? 1 : 0)),
    family('serves', 'gauge', 'Serves in the serve set in force.', () => one(tally.serves().length)),
    family('servedb_reloads_total', 'counter', 'serves.new files accepted (the start-up look included).', () => one(tally.serveSetAccepts)),
    family('servedb_rejects_total', 'counter', 'serves.new files rejected (renamed to serves.rej, the reason in last_error).', () => one(tally.serveSetRejects)),
    family('servedb_last_accepted_timestamp_seconds', 'gauge', "Unix time the serve set in force was accepted (serves.loaded's mtime when started from it); 0 if none ever was.", () =>
      one(tally.acceptedAtSeconds),
    ),
    family('servedb_set_age_seconds', 'gauge', 'Seconds since the serve set in force was accepted; absent while none is.', () =>
      tally.acceptedAtSeconds > 0 ? one(Math.max(0, tally.now() / 1000 - tally.acceptedAtSeconds)) : [],
    ),
    family('spool_bytes', 'gauge', 'Bytes of the on-disk spool (segment files); 0 without a spool.', () => one(spool().bytes)),
    family('spool_batches', 'gauge', 'Batches waiting in the spool for logplex.', () => one(spool().batches)),
    family('spool_oldest_batch_age_seconds', 'gauge', 'Age of the oldest batch waiting in the spool; 0 when none waits.', () => one(ageSeconds(tally.spoolOldestAtMs))),
    family('spool_full', 'gauge', '1 while the spool takes no more batches (its cap, the free-space floor, or a disk error pause); batches then wait in memory.', () =>
      one(tally.spoolFull),
    ),
    family('spool_batches_spooled_total', 'counter', 'Batches written to the spool (logplex did not take them in time).', () => one(tally.latest?.spoolBatchesSpooled ?? 0)),
    family('spool_batches_drained_total', 'counter', 'Batches read back from the spool and taken off it: posted, or given up (then counted in lines_dropped_total).', () =>
      one(tally.latest?.spoolBatchesDrained ?? 0),
    ),
    family('spool_batches_lost_total', 'counter', 'Spooled batches given up because their segment turned out damaged when read back.', () => one(tally.spoolBatchesLost)),
    family('spool_failures_total', 'counter', 'Disk operations of the spool that failed, by op (open, append, read, ack, sync, other).', function* () {
      for (const [op, n] of tally.spoolFailures) yield [renderLabels([['op', op]]), n];
    }),
    family('metrics_connections', 'gauge', 'Connections open to this metrics endpoint (scrapers and probes), this one included.', () => one(src.scrapeConnections())),
    family('metrics_renders_total', 'counter', 'Renders of this exposition; scrapes that overlap one, or come within the cache interval, share it.', () => one(src.renders())),

    perServe(tally, 'serve_listening', 'gauge', '1 when the serve is listening on its socket, 0 when it is not (yet).', (s) => (src.isListening(s.socket) ? 1 : 0)),
    perServe(tally, 'connections', 'gauge', 'PostgreSQL connections open now (identified ones).', (s) => s.connections),
    perServe(tally, 'connections_accepted_total', 'counter', 'PostgreSQL connections that identified and were accepted.', (s) => s.accepted),
    perServeBy(tally, 'connections_refused_total', 'Connections closed as soon as accepted, by reason: max_connections (the serve\'s cap) or open_file_limit (descriptors).', 'reason', (s) => s.refused),
    perServe(tally, 'identity_mismatches_total', 'counter', "Connections refused because they identified as another database than the serve's.", (s) => s.identityMismatches),
    perServeBy(tally, 'protocol_errors_total', 'Connections closed for breaking the logfebe protocol, by error code (LOGFEBE_*, DECODER_FAILURE, other).', 'code', (s) => s.protocolErrors),
    perServe(tally, 'records_received_total', 'counter', 'Log records received from PostgreSQL.', (s) => s.recordsIn),
    perServe(tally, 'frames_sent_total', 'counter', 'Log frames (lines, L10 notices included) in posts logplex accepted.', (s) => s.framesOut),
    perServe(tally, 'sent_bytes_total', 'counter', 'Body bytes of posts logplex accepted, on the wire (after gzip).', (s) => s.bytesOut),
    perServeBy(
      tally,
      'lines_dropped_total',
      'Log lines that will never reach logplex, by reason: buffer_full (announced to the tenant in L10 notices), permanent, max_attempts, max_age, prepare_failed (batches given up), shutdown_timeout, format_failed.',
      'reason',
      (s) => s.linesDropped,
    ),
    perServeBy(
      tally,
      'posts_total',
      'POST attempts to logplex by status: 2xx accepted; the HTTP status logplex answered (4xx/5xx for uncommon ones); or timeout, connection, aborted, request_invalid when it did not answer.',
      'status',
      (s) => s.postsFailed,
      ['2xx', (s) => s.postsOk],
    ),
    perServe(tally, 'queued_bytes', 'gauge', 'Frame bytes held in memory for a serve: open batch, waiting, in flight or retrying (capped by the buffer cap).', (s) => s.queuedBytes),
    perServe(tally, 'serve_spool_bytes', 'gauge', 'Spool bytes of a serve, for serves that have something spooled.', (s) => s.spoolBytes, spooled),
    perServe(tally, 'serve_spool_batches', 'gauge', 'Batches of a serve waiting in the spool, for serves that have something spooled.', (s) => s.spoolBatches, spooled),
    perServe(tally, 'serve_spool_oldest_batch_age_seconds', 'gauge', "Age of a serve's oldest spooled batch, for serves that have something spooled.", (s) => ageSeconds(s.spoolOldestAtMs), spooled),
  ];
}
