// What only the command logs, beside the collector's events (../collector.ts).
export interface StatsEvent {
  readonly kind: 'stats';
  readonly level: 'info';
  readonly connections: number;
  readonly records_in: number;
  readonly frames_out: number;
  readonly requests_ok: number;
  readonly requests_retried: number;
  readonly requests_failed: number;
  readonly dropped: number;
  readonly lost: number;
  readonly queued_bytes: number;
}

export interface SignalEvent {
  readonly kind: 'signal';
  readonly level: 'info';
  readonly signal: string; // SIGTERM, SIGINT
}

export interface MetricsListeningEvent {
  readonly kind: 'metrics_listening';
  readonly level: 'info';
  readonly address: string; // host:port the metrics endpoint answers on
}

export interface ExitForcedEvent {
  readonly kind: 'exit_forced';
  readonly level: 'error';
  readonly after_ms: number; // the shutdown timeout plus the grace: what held the process past it is abandoned
}

export interface ReloadRequestedEvent {
  readonly kind: 'reload_requested';
  readonly level: 'info';
  readonly signal: string; // SIGHUP
}

export type DaemonEvent = StatsEvent | SignalEvent | MetricsListeningEvent | ExitForcedEvent | ReloadRequestedEvent;
