// The source's bounds on what peers make it hold: defaults, and values that cannot work refused
// when the collector is created rather than found out under load.
import { DEFAULT_SOURCE_OPTIONS, resolveSourceOptions } from '../../src/source/options';

describe('resolveSourceOptions bounds', () => {
  it('defaults', () => {
    expect(resolveSourceOptions({ openFileLimit: 1024 })).toMatchObject({
      maxPartialBytes: 64 * 1024 * 1024,
      handshakeTimeoutMs: 10_000,
      maxConnectionsPerServe: 1000,
      reservedFileDescriptors: 256,
      connectionsRefusedReportMs: 10_000,
      readIntervalMs: 10,
    });
    expect(resolveSourceOptions({ openFileLimit: 1024, readIntervalMs: 0 }).readIntervalMs).toBe(0); // read as data arrives
    expect(DEFAULT_SOURCE_OPTIONS.openFileLimit).toBeUndefined(); // read from the process
  });

  it('keeps the partial bound above one record at the cap, raising its default with the cap', () => {
    expect(resolveSourceOptions({ maxMessageBytes: 128 * 1024 * 1024 }).maxPartialBytes).toBe(128 * 1024 * 1024 + 1);
    expect(() => resolveSourceOptions({ maxMessageBytes: 2 << 20, maxPartialBytes: 1 << 20 })).toThrow(
      'maxPartialBytes (--partial-cap) must hold at least one record at the record cap (2097153 bytes), got 1048576',
    );
  });

  it.each([
    [{ handshakeTimeoutMs: 0 }, /handshakeTimeoutMs/],
    [{ maxConnectionsPerServe: 0 }, /maxConnectionsPerServe/],
    [{ reservedFileDescriptors: -1 }, /reservedFileDescriptors/],
    [{ connectionsRefusedReportMs: 0 }, /connectionsRefusedReportMs/],
    [{ readIntervalMs: -1 }, /readIntervalMs \(--read-interval\) must be a number of milliseconds from 0 to 1000, got -1/],
    [{ readIntervalMs: 1001 }, /readIntervalMs/],
  ])('refuses %j', (options, message) => {
    expect(() => resolveSourceOptions(options)).toThrow(message);
  });
});
