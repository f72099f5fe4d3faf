// The spool's public API: the store, its options, format and events.
export { SpoolStore, type ServeSpool, type SpoolEntry, type SpoolCounts, type AppendOutcome } from './store';
export { DEFAULT_SPOOL_OPTIONS, resolveSpoolOptions, SpoolOptionsError, type SpoolOptions, type SpoolOptionsInput } from './options';
export { encodeRecord, scanSegment, type SpooledBatch, type SegmentScan } from './format';
export { drainSpool, type DrainOutcome } from './drain';
export type { SpoolEvent, SpoolRecoveredEvent, SpoolDamagedEvent, SpoolFailedEvent, SpoolFullEvent, SpoolEntrySkippedEvent, SpoolLegacyFoundEvent } from './events';
export { SpoolOpenError, type SpoolOpenErrorCode } from './errors';
export { ROOT_NAME as SPOOL_ROOT_NAME, type Untrusted } from './layout';
