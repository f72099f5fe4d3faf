// ELevel numbers to the names PostgreSQL prints (error_severity() in elog.c). PostgreSQL 14
// inserted WARNING_CLIENT_ONLY at 20 and shifted ERROR, FATAL and PANIC up by one, so the same
// number means ERROR on 13 and WARNING on 14: the connection's V message decides.
import type { Severity, SeverityName } from './messages';

/** The first major version whose ELevel numbering has WARNING_CLIENT_ONLY. */
export const WARNING_CLIENT_ONLY_SINCE = 14;

// Built once: resolving a severity is per record and must not allocate for known levels.
const known = (name: SeverityName): Severity => Object.freeze({ name, label: name });
const DEBUG = known('DEBUG');
const LOG = known('LOG');
const INFO = known('INFO');
const NOTICE = known('NOTICE');
const WARNING = known('WARNING');
const ERROR = known('ERROR');
const FATAL = known('FATAL');
const PANIC = known('PANIC');

const FIRST_ELEVEL = 10; // DEBUG5

// Indexed by elevel - 10.
const BEFORE_14: readonly Severity[] = [
  DEBUG, DEBUG, DEBUG, DEBUG, DEBUG, // 10..14 DEBUG5..DEBUG1
  LOG, // 15 LOG
  LOG, // 16 LOG_SERVER_ONLY (alias COMMERROR): printed as LOG
  INFO, // 17
  NOTICE, // 18
  WARNING, // 19
  ERROR, // 20
  FATAL, // 21
  PANIC, // 22
];

const FROM_14: readonly Severity[] = [
  DEBUG, DEBUG, DEBUG, DEBUG, DEBUG, // 10..14 DEBUG5..DEBUG1
  LOG, // 15 LOG
  LOG, // 16 LOG_SERVER_ONLY
  INFO, // 17
  NOTICE, // 18
  WARNING, // 19
  WARNING, // 20 WARNING_CLIENT_ONLY: printed as WARNING
  ERROR, // 21
  FATAL, // 22
  PANIC, // 23
];

/**
 * The severity of `elevel` on a server of this major version (9.4, 13, 15...). An unknown number
 * is not an error: a newer server may add levels, and its record is still worth delivering, so
 * it counts as LOG and its label keeps the number.
 */
export function severityOf(elevel: number, major: number): Severity {
  const table = major < WARNING_CLIENT_ONLY_SINCE ? BEFORE_14 : FROM_14;
  const found = table[elevel - FIRST_ELEVEL];
  return found ?? { name: 'LOG', label: `LOG (elevel ${elevel})` };
}
