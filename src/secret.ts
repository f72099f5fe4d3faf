// Tokens and URL credentials travel inside a Secret so that no log line, error message, JSON
// dump or util.inspect() can print them by accident: every implicit conversion shows
// `[redacted]`. Only the HTTP sink (auth header, APP-NAME) calls reveal().
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The real value. Call only where it must go on the wire. */
  reveal(): string {
    return this.#value;
  }

  /** Compares without revealing, for "did the credentials change?" on reload. */
  equals(other: Secret): boolean {
    return this.#value === other.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
