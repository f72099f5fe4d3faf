// Options: defaults in one place, and a refusal naming the option for anything that could make a
// frame exceed logplex's 10240 bytes or shift the header's fields.
import { DEFAULT_FORMAT_OPTIONS, FormatError, MAX_FRAME_BYTES, maxHeaderBytes, resolveFormatOptions } from '../../src/format';
import type { FormatOptions } from '../../src/format';

function refusal(options: Partial<FormatOptions>): FormatError {
  try {
    resolveFormatOptions(options);
  } catch (e) {
    if (e instanceof FormatError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('resolveFormatOptions', () => {
  it('defaults', () => {
    expect(resolveFormatOptions()).toEqual({
      linePrefix: 'sql_error_code = %e ',
      facility: 16,
      hostname: 'postgres',
      maxMessageBytes: 10000,
      noticeProcId: 'postgres.collector',
      maxRecordFrames: 1000,
    });
    expect(resolveFormatOptions()).toEqual(DEFAULT_FORMAT_OPTIONS);
  });

  it('keeps what is given', () => {
    expect(resolveFormatOptions({ facility: 0, hostname: 'x', maxMessageBytes: 512 })).toMatchObject({ facility: 0, hostname: 'x', maxMessageBytes: 512 });
  });

  it('the header bound: 123 bytes with the defaults, so 10000 + header fits 10240', () => {
    // `<191>1 ` 7 + timestamp 32 + ` postgres ` 10 + APP-NAME 48 + ` ` + `postgres.-2147483648` 20 + ` - - ` 5
    expect(maxHeaderBytes(DEFAULT_FORMAT_OPTIONS)).toBe(123);
    expect(DEFAULT_FORMAT_OPTIONS.maxMessageBytes + maxHeaderBytes(DEFAULT_FORMAT_OPTIONS)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it('accepts the largest cap the header bound allows, refuses one byte more', () => {
    const ceiling = MAX_FRAME_BYTES - 123;
    expect(resolveFormatOptions({ maxMessageBytes: ceiling }).maxMessageBytes).toBe(ceiling);
    expect(refusal({ maxMessageBytes: ceiling + 1 }).message).toMatch(/format\.maxMessageBytes: must be an integer from 512 to 10117/);
  });

  it('a longer hostname lowers the ceiling', () => {
    const hostname = 'h'.repeat(200);
    expect(refusal({ hostname, maxMessageBytes: 10000 }).message).toMatch(/format\.maxMessageBytes/);
    expect(resolveFormatOptions({ hostname, maxMessageBytes: MAX_FRAME_BYTES - maxHeaderBytes({ hostname, noticeProcId: 'postgres.collector' }) })).toBeTruthy();
  });

  it.each<[Partial<FormatOptions>, RegExp]>([
    [{ facility: 24 }, /format\.facility/],
    [{ facility: -1 }, /format\.facility/],
    [{ facility: 1.5 }, /format\.facility/],
    [{ hostname: '' }, /format\.hostname/],
    [{ hostname: 'two words' }, /format\.hostname/],
    [{ hostname: 'hôte' }, /format\.hostname/],
    [{ hostname: 'h'.repeat(256) }, /format\.hostname/],
    [{ noticeProcId: 'a b' }, /format\.noticeProcId/],
    [{ maxMessageBytes: 511 }, /format\.maxMessageBytes/],
    [{ maxMessageBytes: 10240 }, /format\.maxMessageBytes/],
    [{ maxMessageBytes: Number.NaN }, /format\.maxMessageBytes/],
    [{ linePrefix: '%U ' }, /format\.linePrefix/],
    [{ maxRecordFrames: 1 }, /format\.maxRecordFrames/],
    [{ maxRecordFrames: 100_001 }, /format\.maxRecordFrames/],
    [{ maxRecordFrames: 2.5 }, /format\.maxRecordFrames/],
  ])('refuses %j', (options, path) => {
    const e = refusal(options);
    expect(e.message).toMatch(path);
    expect(['FORMAT_OPTIONS_INVALID', 'FORMAT_BAD_PREFIX']).toContain(e.code);
  });
});
