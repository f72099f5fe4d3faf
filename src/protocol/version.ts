// The V message: `PG-<server version>/logfebe-<protocol version>`. The server part is free form
// (distributors append to PG_VERSION), so only its leading number is read: it picks the ELevel table.
import { ProtocolError } from './errors';
import type { VersionMessage } from './messages';

const PREFIX = 'PG-';
const PROTOCOL_SEPARATOR = '/logfebe-';
const SUPPORTED_PROTOCOL = 'logfebe-1';

// Before 10 the major version had two parts (9.4); from 10 on it is the first number alone, and
// pre-releases glue their tag straight onto it (17beta1, 18devel).
const LEADING_VERSION = /^(\d+)(?:\.(\d+))?/;

export function parseVersion(version: string): VersionMessage {
  // lastIndexOf: the distributor's text is free form and could itself contain the separator.
  const separator = version.lastIndexOf(PROTOCOL_SEPARATOR);
  if (!version.startsWith(PREFIX) || separator < PREFIX.length) {
    throw new ProtocolError('LOGFEBE_BAD_VERSION', `version ${JSON.stringify(version)} is not PG-<server version>/logfebe-<n>`);
  }
  const protocol = version.slice(separator + 1);
  if (protocol !== SUPPORTED_PROTOCOL) {
    throw new ProtocolError(
      'LOGFEBE_BAD_VERSION',
      `protocol version ${JSON.stringify(protocol)} is not supported (want ${SUPPORTED_PROTOCOL})`,
    );
  }
  const serverVersion = version.slice(PREFIX.length, separator);
  const major = majorVersionOf(serverVersion);
  if (major === undefined) {
    throw new ProtocolError(
      'LOGFEBE_BAD_VERSION',
      `server version ${JSON.stringify(serverVersion)} does not start with a number, so its ELevel numbering is unknown`,
    );
  }
  return { type: 'V', version, serverVersion, major };
}

/** 9.4 for `9.4.26`, 15 for `15.20 (Debian ...)`, 17 for `17beta1`; undefined when unreadable. */
export function majorVersionOf(serverVersion: string): number | undefined {
  const match = LEADING_VERSION.exec(serverVersion);
  if (match === null) return undefined;
  const first = Number(match[1]);
  if (first >= 10 || match[2] === undefined) return first;
  return Number(`${first}.${match[2]}`);
}
