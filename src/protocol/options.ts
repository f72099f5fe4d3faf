// Every tunable of the protocol stage, with its default, in one place.

import { OptionsError } from '../errors';
export interface ProtocolOptions {
  /**
   * Largest accepted message, counted as its length field does (the payload plus the 4 length
   * bytes, not the type byte). Checked as soon as a header arrives, so an oversized or garbage
   * length closes the connection before anything is buffered. Real records are 150-600 bytes;
   * `log_statement = all` can log megabytes, which the cap deliberately drops (the reference
   * collector used 1 MiB).
   */
  readonly maxMessageBytes: number;
}

export const DEFAULT_PROTOCOL_OPTIONS: ProtocolOptions = {
  maxMessageBytes: 1024 * 1024,
};

/** Defaults filled in; a nonsensical value is a programming error, so it throws at construction. */
export function resolveProtocolOptions(options: Partial<ProtocolOptions> = {}): ProtocolOptions {
  const resolved: ProtocolOptions = {
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_PROTOCOL_OPTIONS.maxMessageBytes,
  };
  // Below 4 not even an empty message would fit; above 2^31-1 the int32 length cannot say it.
  if (!Number.isInteger(resolved.maxMessageBytes) || resolved.maxMessageBytes < 4 || resolved.maxMessageBytes > 0x7fffffff) {
    throw new OptionsError(`maxMessageBytes must be an integer from 4 to 2147483647, got ${resolved.maxMessageBytes}`);
  }
  return resolved;
}
