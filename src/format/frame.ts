// RFC 5424 syslog messages, octet-counted as application/logplex-1 wants them
// (docs/logplex-input.md): `<len> <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG`,
// `len` counting the bytes after its space, never characters, or a multibyte character would
// desynchronise the whole body.

/**
 * Everything before MSG, built once per record: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - `.
 * MSGID and SD are always `-`: logplex ignores them and readers show neither.
 */
export function frameHeader(pri: number, timestamp: string, hostname: string, appName: string, procId: string): string {
  return `<${pri}>1 ${timestamp} ${hostname} ${appName} ${procId} - - `;
}

/** `<len> <header><msg>` as bytes: one frame on its own (our L10 notices). */
export function octetFrame(header: string, msg: string): Buffer {
  return octetFrames(header, [msg]);
}

// Byte lengths of the messages of the record being written. Formatting is synchronous, so one
// scratch array serves every call and a record costs no array of its own.
const messageBytes: number[] = [];

/** Decimal digits of a frame length (a frame is at most 10240 bytes, but be exact anyway). */
function digitsOf(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

/**
 * Every message as a frame with the same header, back to back in ONE Buffer: its exact size is
 * counted first so that a record costs one allocation (allocUnsafe pools small ones) and each
 * byte is written once; the header is encoded once and copied for the later frames.
 */
export function octetFrames(header: string, messages: readonly string[]): Buffer {
  const headerBytes = Buffer.byteLength(header);
  const n = messages.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const bytes = Buffer.byteLength(messages[i] as string);
    messageBytes[i] = bytes;
    const length = headerBytes + bytes;
    total += digitsOf(length) + 1 + length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  let headerAt = -1;
  for (let i = 0; i < n; i++) {
    const msg = messages[i] as string;
    const bytes = messageBytes[i] as number;
    const length = headerBytes + bytes;
    // The count in ASCII digits, written by hand: a string per frame just to print it was a cost.
    const countEnd = at + digitsOf(length);
    out[countEnd] = 0x20;
    for (let d = countEnd, rest = length; d > at; rest = Math.floor(rest / 10)) out[--d] = 0x30 + (rest % 10);
    at = countEnd + 1;
    if (headerAt < 0) {
      headerAt = at;
      at += out.write(header, at, headerBytes, 'utf8');
    } else {
      out.copyWithin(at, headerAt, headerAt + headerBytes);
      at += headerBytes;
    }
    // As many bytes as characters means ASCII, which latin1 copies without transcoding.
    at += out.write(msg, at, bytes, bytes === msg.length ? 'latin1' : 'utf8');
  }
  return out;
}
