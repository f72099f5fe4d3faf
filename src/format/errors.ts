// What an operator (or a test) sees when the format stage refuses its configuration or a serve:
// the code is what alerting keys on, the message names the option and says what to fix.

import { CollectorError } from '../errors';

export type FormatErrorCode =
  | 'FORMAT_OPTIONS_INVALID' // an option is out of range; the message names it
  | 'FORMAT_BAD_PREFIX' // linePrefix has an escape we do not know, a lone `%`, or a newline
  | 'FORMAT_HEADER_TOO_LONG'; // a serve's token is so long that no text fits in a frame

export class FormatError extends CollectorError {
  override readonly name = 'FormatError';
  readonly code: FormatErrorCode;

  constructor(code: FormatErrorCode, message: string) {
    super(`format: ${message}`);
    this.code = code;
  }
}
