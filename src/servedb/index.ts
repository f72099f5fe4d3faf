// The serve database's public API: open it, subscribe to the serve set, log the outcomes.
export { openServeDb, type ServeDb } from './serveDb';
export {
  DEFAULT_SERVE_DB_OPTIONS,
  resolveServeDbOptions,
  type ServeDbOptions,
  type ServeDbOptionsInput,
} from './options';
export { ServeDbError, type ServeDbErrorCode } from './errors';
export type { ServeDbEvent, ServesAcceptedEvent, ServesUnchangedEvent, ServesErrorEvent, ServesRejectedEvent, ServesWarningEvent, StaleLockEvent } from './events';
export type { LookReason } from './watch';
export { parseServes, describeInvalid, withoutCredentials, type ParseServesOptions, type ServesInvalid } from './validate';
export { sameDelivery, sameServe, sameServeSet, serveSetChanges, type LogplexTarget, type Serve, type ServeChange, type ServeSet } from './serve';
export { decide, reload, appliedServeSets, diffServeSets, type ReloadOutcome, type ServesRead, type ServeSetDiff } from './reload';
export { coalescePasses } from './coalesce';
