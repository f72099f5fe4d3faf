// A connection that breaks the protocol is closed with one of these; the code is what an
// operator's alerting or a test keys on, the message is what a person reads in the log line.

import { CollectorError } from '../errors';

export type ProtocolErrorCode =
  | 'LOGFEBE_UNKNOWN_TYPE' // type byte is not V, I or L
  | 'LOGFEBE_BAD_ORDER' // V first, I second, then L only
  | 'LOGFEBE_BAD_LENGTH' // length field below 4
  | 'LOGFEBE_TOO_LARGE' // length field above maxMessageBytes
  | 'LOGFEBE_BAD_NULL_FLAG' // *CString flag is not P or N, or N is not followed by an empty CString
  | 'LOGFEBE_TRUNCATED_FIELD' // a field runs past the end of its message
  | 'LOGFEBE_TRAILING_BYTES' // a V or L payload has bytes left after its last field
  | 'LOGFEBE_TRUNCATED_MESSAGE' // the stream ended in the middle of a message
  | 'LOGFEBE_BAD_VERSION' // V is not `PG-<version>/logfebe-1`
  | 'LOGFEBE_PARTIAL_LIMIT' // an unfinished message would take all connections' unfinished messages past their bound
  | 'LOGFEBE_HANDSHAKE_TIMEOUT'; // V and I did not both arrive within the handshake timeout

export class ProtocolError extends CollectorError {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super(`logfebe: ${message}`);
    this.code = code;
  }
}

export const hexByte = (byte: number): string => `0x${byte.toString(16).padStart(2, '0')}`;

/** `'X' (0x58)` for a printable type byte, `0x00` otherwise: readable and unambiguous in a log. */
export function describeByte(byte: number): string {
  const hex = hexByte(byte);
  return byte >= 0x20 && byte <= 0x7e ? `'${String.fromCharCode(byte)}' (${hex})` : hex;
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
