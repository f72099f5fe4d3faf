// The sink's public API: the stage, its options, stats, events, errors and reusable operators.
export { logplexSink, type LogplexSinkConfig, type SinkSpool } from './logplexSink';
export { nextState, type OutboxState, type OutboxEvent } from './outbox';
export { sinkFormatter, type SinkFormatter } from './formatter';
export {
  DEFAULT_RETRY_POLICY,
  DEFAULT_SINK_OPTIONS,
  resolveSinkOptions,
  SinkOptionsError,
  type RetryPolicy,
  type SinkOptions,
  type SinkOptionsInput,
} from './options';
export type { SinkCounters, ServeStats, SinkStats } from './stats';
export type { SinkEvent, PostFailedEvent, BatchLostEvent, DropEvent, FormatFailedEvent } from './events';
export { PostError, RetryGiveUpError, isTransientStatus, refusedByTenant, type PostErrorCode, type GiveUpReason } from './errors';
export { fillBodies, MIN_RECORD_BYTES, type FillOptions, type FilledBody, type BodySupply } from './fillBodies';
export { retryWithBackoff, backoffDelay, type AttemptFailure, type RetryOptions } from './retryWithBackoff';
export { LogplexClient, preparePost, newFrameId, type OutgoingBatch, type PreparedPost, type PostResult, type PostTransport } from './post';
