// Syslog severities for PostgreSQL's levels, as PostgreSQL's own syslog output maps them
// (write_syslog() in elog.c): DEBUG → debug, LOG/INFO → info, NOTICE/WARNING → notice,
// ERROR → warning, FATAL → err, PANIC → crit. One step "milder" than the names suggest, because
// an ERROR is a failed statement, not a failing server.
import type { SeverityName } from '../protocol/messages';

export const SYSLOG_SEVERITY: Readonly<Record<SeverityName, number>> = Object.freeze({
  DEBUG: 7,
  LOG: 6,
  INFO: 6,
  NOTICE: 5,
  WARNING: 5,
  ERROR: 4,
  FATAL: 3,
  PANIC: 2,
});

/**
 * Severity of our own in-band notices (L10 drops and losses): warning, as log-shuttle sends its
 * drop notices (`<172>` is local5.warning). Lost logs deserve more than info; they are not a
 * PostgreSQL error, and nothing parses the PRI to count errors (pgBadger reads the text).
 */
export const NOTICE_SYSLOG_SEVERITY = 4;

/** PRI = facility × 8 + severity: LOG on local0 is 134, ERROR 132. */
export function syslogPri(facility: number, severity: SeverityName): number {
  return facility * 8 + SYSLOG_SEVERITY[severity];
}
