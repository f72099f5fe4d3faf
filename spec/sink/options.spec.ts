// Sink options: defaults in one place, partial overrides merged, bad values named by path.
import { DEFAULT_SINK_OPTIONS, resolveSinkOptions, SinkOptionsError } from '../../src/sink';

describe('resolveSinkOptions', () => {
  it('fills every default and names the package version in the User-Agent', () => {
    const pkg = require('../../package.json') as { version: string };
    expect(resolveSinkOptions()).toEqual(DEFAULT_SINK_OPTIONS);
    expect(DEFAULT_SINK_OPTIONS).toMatchObject({
      flushIntervalMs: 250,
      maxBatchFrames: 5000,
      maxBatchBytes: 1024 * 1024,
      concurrency: 4,
      bufferCapBytes: 32 * 1024 * 1024,
      gzip: false,
      postDeadlineMs: 60_000,
      userAgent: `pg-logplexcollector/${pkg.version}`,
    });
  });

  it('merges retry fields one by one and ignores undefined (unset daemon flags)', () => {
    const o = resolveSinkOptions({ concurrency: undefined, gzip: true, retry: { maxAttempts: 3 } });
    expect(o.concurrency).toBe(4);
    expect(o.gzip).toBe(true);
    expect(o.retry).toEqual({ ...DEFAULT_SINK_OPTIONS.retry, maxAttempts: 3 });
  });

  it.each([
    [{ concurrency: 0 }, 'sink.concurrency'],
    [{ flushIntervalMs: Number.NaN }, 'sink.flushIntervalMs'],
    [{ bufferCapBytes: -1 }, 'sink.bufferCapBytes'],
    [{ postDeadlineMs: 0 }, 'sink.postDeadlineMs'],
    [{ retry: { jitter: 2 } }, 'sink.retry.jitter'],
    [{ retry: { maxAttempts: 0 } }, 'sink.retry.maxAttempts'],
  ])('rejects %j naming %s', (input, path) => {
    expect(() => resolveSinkOptions(input)).toThrow(SinkOptionsError);
    expect(() => resolveSinkOptions(input)).toThrow(path);
  });
});
