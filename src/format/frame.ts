// One RFC 5424 syslog message, octet-counted as application/logplex-1 wants it
// (../shared/spec/logplex-input.md): `<len> <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG`,
// `len` counting the bytes after its space.

/**
 * Everything before MSG, built once per record: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - `.
 * MSGID and SD are always `-`: logplex ignores them and readers show neither.
 */
export function frameHeader(pri: number, timestamp: string, hostname: string, appName: string, procId: string): string {
  return `<${pri}>1 ${timestamp} ${hostname} ${appName} ${procId} - - `;
}

/**
 * `<len> <header><msg>` as bytes. `len` is the UTF-8 byte length of header and msg together,
 * never their character count, or a multibyte character would desynchronise the whole body.
 */
export function octetFrame(header: string, msg: string): Buffer {
  const syslog = header + msg;
  const length = Buffer.byteLength(syslog);
  const count = `${length} `;
  // One allocation per frame, written in place: this runs for every line of every record.
  const frame = Buffer.allocUnsafe(count.length + length);
  frame.write(count, 0, 'latin1');
  frame.write(syslog, count.length, 'utf8');
  return frame;
}
