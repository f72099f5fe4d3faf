// pg-logplexcollector as a library: `import { createCollector } from 'pg-logplexcollector'`.
// The stages are exported too, for apps that want to build their own pipeline from them.
export { createCollector, type Collector, type CollectorEvent, type CollectorStats, type LifecycleEvent } from './collector';
export { DEFAULT_COLLECTOR_OPTIONS, type CollectorOptions } from './options';
export type { EventBase, EventLevel, EventSink } from './events';
export { Secret } from './secret';

export * as protocol from './protocol';
export * as servedb from './servedb';
export * as source from './source';
export * as format from './format';
export * as sink from './sink';
export * as spool from './spool';

export { ProtocolError, LogfebeDecoder, type LogRecord, type LogfebeMessage, type RecordMessage } from './protocol';
export { ServeDbError, openServeDb, type Serve, type ServeSet } from './servedb';
export { socketSource, type SourcedRecord } from './source';
export { createFormatter } from './format';
export { logplexSink, type SinkStats } from './sink';
export { SpoolStore, type SpoolEvent, type SpoolOptionsInput } from './spool';
