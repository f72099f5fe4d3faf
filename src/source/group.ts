// A socket group as an operator writes it (`postgres` or `114`) to the group id chown wants.
// Node has no getgrnam(); `getent group` asks the system's name service (so LDAP/sssd groups
// resolve as they do for `ls -l`), and /etc/group is read when getent is not installed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The group id for `nameOrGid`, or undefined when no such group exists. Synchronous: start-up only. */
export function lookupGroupId(nameOrGid: string): number | undefined {
  const text = nameOrGid.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(text)) return undefined; // not a group name; never passed to getent
  let entry: string | undefined;
  try {
    entry = execFileSync('getent', ['group', text], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
  } catch (error) {
    // getent exits 2 for "no such group"; anything else (not installed) falls back to the file.
    if ((error as { status?: unknown }).status === 2) return undefined;
    try {
      entry = readFileSync('/etc/group', 'utf8')
        .split('\n')
        .find((line) => line.split(':')[0] === text);
    } catch {
      return undefined;
    }
  }
  const gid = entry?.trim().split(':')[2];
  return gid !== undefined && /^\d+$/.test(gid) ? Number(gid) : undefined;
}
