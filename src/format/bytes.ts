// Small byte writers for the byte path (wireFrames.ts, wirePrefix.ts): numbers as ASCII digits
// without a string, and copies short enough that a loop beats a call into C++.

// Below this many bytes a JavaScript loop copies faster than Buffer#copy, which costs a call into
// C++ and, for part of a buffer, a view object (about 80 ns on the bench machine, where the loop
// takes 1-2 ns a byte, and the views are garbage).
const SHORT_COPY = 64;

/** Copies `src[start, end)` to `dst` at `at` (the caller has checked the room). */
export function copyBytes(src: Buffer, start: number, end: number, dst: Buffer, at: number): void {
  const length = end - start;
  if (length < SHORT_COPY) {
    for (let i = 0; i < length; i++) dst[at + i] = src[start + i] as number;
  } else {
    src.copy(dst, at, start, end);
  }
}

/** UTF-16 code units of the valid UTF-8 `buf[start, end)`: what a JavaScript string's length would be. */
export function utf16Units(buf: Buffer, start: number, end: number): number {
  let units = 0;
  for (let i = start; i < end; i++) {
    const byte = buf[i] as number;
    if ((byte & 0xc0) !== 0x80) units += byte >= 0xf0 ? 2 : 1; // a four-byte character is a surrogate pair
  }
  return units;
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

  put(src: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    copyBytes(src, start, end, this.buf, this.length);
    this.length += end - start;
  }

  /** All of `src`: a whole buffer needs no view to be copied natively. */
  putAll(src: Buffer): void {
    const length = src.length;
    this.ensure(length);
    if (length < SHORT_COPY) copyBytes(src, 0, length, this.buf, this.length);
    else this.buf.set(src, this.length);
    this.length += length;
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
