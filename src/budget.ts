// A count that many holders share under one limit: bytes of unfinished messages over every
// connection (protocol/deframe.ts), file descriptors over every listener and connection
// (source/socketSource.ts). A holder takes before it holds and gives back when it lets go.

import { OptionsError } from './errors';

export class Budget {
  private heldUnits = 0;

  /** `limit`: what all holders together may hold; Infinity for no bound. */
  constructor(readonly limit: number) {
    if (!(Number.isSafeInteger(limit) || limit === Infinity) || limit < 0) {
      throw new OptionsError(`a budget's limit must be a whole number >= 0 or Infinity, got ${limit}`);
    }
  }

  /** Held right now, over every holder. */
  get held(): number {
    return this.heldUnits;
  }

  /** Takes `units`; false, and nothing taken, when that would pass the limit. */
  take(units: number): boolean {
    if (this.heldUnits + units > this.limit) return false;
    this.heldUnits += units;
    return true;
  }

  give(units: number): void {
    this.heldUnits -= units;
  }
}
