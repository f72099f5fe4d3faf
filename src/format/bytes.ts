// Small byte writers for the byte path (wireFrames.ts, wirePrefix.ts): numbers as ASCII digits
// without a string, and copies short enough that a loop beats a call into C++.

// Below this many bytes a JavaScript loop copies faster than Buffer#copy's native call.
const SHORT_COPY = 24;

/** Copies `src[start, end)` to `dst` at `at` (the caller has checked the room). */
export function copyBytes(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): void {
  const length = end - start;
  if (length < SHORT_COPY) {
    for (let i = 0; i < length; i++) dst[at + i] = src[start + i] as number;
  } else {
    dst.set(src.subarray(start, end), at);
  }
}

/** True when `v` prints as plain decimal digits of digitsOf(v): an integer from 0 below 10^15. */
export const isPlainCount = (v: number): boolean => v >= 0 && v < 1e15 && Math.floor(v) === v;

/** Decimal digits of a plain count (isPlainCount). */
export function digitsOf(v: number): number {
  let digits = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    digits++;
  }
  return digits;
}

/** Writes the `digits` decimal digits of the plain count `v` at `at` (the caller has checked the room). */
export function writeDigits(dst: Uint8Array, at: number, v: number, digits: number): void {
  for (let d = at + digits; d > at; v = Math.floor(v / 10)) dst[--d] = 0x30 + (v % 10);
}

/** A number as String() prints it (`-5`, `1e+21`), as ASCII bytes: for what is not a plain count. */
export const numberText = (v: number): Buffer => Buffer.from(String(v), 'latin1');

/** A growable byte buffer written from the start for each record (the rendered prefix, the header). */
export class ByteScratch {
  buf: Buffer;
  length = 0;

  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafeSlow(bytes);
  }

  /** Room for `bytes` more, keeping what is written. */
  ensure(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(needed, 2 * this.buf.length));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  put(src: Uint8Array, start: number, end: number): void {
    this.ensure(end - start);
    copyBytes(src, start, end, this.buf, this.length);
    this.length += end - start;
  }

  putAll(src: Uint8Array): void {
    this.put(src, 0, src.length);
  }

  /** A number as String() would print it. */
  putNumber(v: number): void {
    if (isPlainCount(v)) {
      const digits = digitsOf(v);
      this.ensure(digits);
      writeDigits(this.buf, this.length, v, digits);
      this.length += digits;
    } else {
      this.putAll(numberText(v));
    }
  }

  putByte(byte: number): void {
    this.ensure(1);
    this.buf[this.length++] = byte;
  }

  /** `count` spaces. */
  pad(count: number): void {
    if (count <= 0) return;
    this.ensure(count);
    this.buf.fill(0x20, this.length, this.length + count);
    this.length += count;
  }
}
