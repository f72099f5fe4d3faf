// The spool's public API: the store, its options, format and events.
export { SpoolStore, type ServeSpool, type SpoolEntry, type SpoolCounts, type AppendOutcome } from './store';
export { DEFAULT_SPOOL_OPTIONS, resolveSpoolOptions, SpoolOptionsError, type SpoolOptions, type SpoolOptionsInput } from './options';
export { encodeRecord, scanSegment, type SpooledBatch, type SegmentScan } from './format';
export { drainSpool, SpoolDrainers, toSpoolWhileBusy, type ToSpoolConfig } from './drain';
export type { SpoolEvent, SpoolRecoveredEvent, SpoolDamagedEvent, SpoolFailedEvent, SpoolFullEvent } from './events';
