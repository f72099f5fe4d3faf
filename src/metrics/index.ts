// Metrics and health over HTTP, as `pg-logplexcollector/metrics`: a subpath of its own so that
// embedders who do not use it never load prom-client (~12 MB of RSS with its dependencies).
export { collectorMetrics, type CollectorMetrics, type Rendered } from './collectorMetrics';
export { serveMetrics, MetricsListenError, type MetricsServer } from './server';
export { DEFAULT_METRICS_OPTIONS, MetricsOptionsError, parseListenAddress, type MetricsOptions, type MetricsOptionsInput } from './options';
export type { Readiness } from './readiness';
