// One error base, as undici has: every error this package throws on purpose is a
// CollectorError with a stable `code`, option checks included (no bare RangeError an embedder
// cannot tell from a bug); one errno helper; one naming for defaults.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Budget } from '../../src/budget';
import { CollectorError, errnoCode } from '../../src/errors';
import * as lib from '../../src/index';
import { LogfebeDecoder } from '../../src/protocol/decoder';
import { resolveServeDbOptions } from '../../src/servedb/options';
import { resolveSourceOptions } from '../../src/source/options';
import { ConfigError } from '../../src/daemon/config';

const SRC = resolve(__dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('one error base', () => {
  it('every exported error class of every stage is a CollectorError', () => {
    const classes: Array<[string, unknown]> = [
      ['ProtocolError', lib.protocol.ProtocolError],
      ['ServeDbError', lib.servedb.ServeDbError],
      ['FormatError', lib.format.FormatError],
      ['PostError', lib.sink.PostError],
      ['RetryGiveUpError', lib.sink.RetryGiveUpError],
      ['SinkOptionsError', lib.sink.SinkOptionsError],
      ['SpoolOptionsError', lib.spool.SpoolOptionsError],
      ['ListenError', lib.source.ListenError],
      ['ConfigError', ConfigError],
    ];
    for (const [name, cls] of classes) {
      expect({ name, isCollectorError: typeof cls === 'function' && cls.prototype instanceof CollectorError }).toEqual({ name, isCollectorError: true });
    }
  });

  it('declares no error class outside it in src/ (the test tools excepted for their CLI usage errors)', () => {
    const offenders = sources(SRC)
      .filter((f) => !f.endsWith('/errors.ts'))
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/class (\w+) extends (?:Error|RangeError|TypeError)\b/g)].map((m) => `${relative(SRC, f)}: ${m[1]}`))
      .filter((hit) => !/^tools\/\w+Main\.ts: UsageError$/.test(hit));
    expect(offenders).toEqual([]);
  });

  it('option checks throw a CollectorError with a code, not a bare RangeError', () => {
    for (const err of [
      thrown(() => resolveSourceOptions({ socketMode: -1 })),
      thrown(() => resolveServeDbOptions({ dir: '/x', logplexUrl: undefined, pollIntervalMs: 1 })),
      thrown(() => new LogfebeDecoder({ maxMessageBytes: 3 })),
      thrown(() => new Budget(-1)),
    ]) {
      expect(err).toBeInstanceOf(CollectorError);
      expect((err as CollectorError).code).toBe('OPTIONS_INVALID');
    }
  });
});

describe('one errno helper', () => {
  it('reads a code from any object, without instanceof (errors from another realm)', () => {
    expect(errnoCode(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe('ENOENT');
    expect(errnoCode({ code: 5 })).toBeUndefined();
    expect(errnoCode(null)).toBeUndefined();
  });

  it('is written once: nothing else in src/ reads `code` off an unknown error by hand', () => {
    const copies = sources(SRC)
      .filter((f) => !f.endsWith(`${SRC}/errors.ts`) && f !== join(SRC, 'errors.ts'))
      .filter((f) => /'code' in (err|error|e)\b|as \{ code\?: unknown \}\)\.code|as NodeJS\.ErrnoException\)\.code/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(copies).toEqual([]);
  });
});

describe('one naming for defaults', () => {
  it('names every exported default DEFAULT_*_OPTIONS (or DEFAULT_* for a single value)', () => {
    const odd = sources(SRC).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/export const (default[A-Z]\w*|\w+_DEFAULTS)\b/g)].map((m) => `${relative(SRC, f)}: ${m[1]}`),
    );
    expect(odd).toEqual([]);
  });
});
