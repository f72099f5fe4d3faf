// The one grammar of durations and sizes the daemon takes (flags and environment alike), and
// the way it prints them back: a range error speaks in the units the operator typed
// (`64kib` is refused with `must be between 1MiB and 1024GiB`, `20000` in bytes).
import { ConfigError } from './configError';

/** Milliseconds per duration unit. */
export const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Bytes per size unit; matched without regard to case (`64kib` is `64KiB`). */
export const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
};
const SIZE_UNIT_BY_LOWER = new Map(Object.entries(SIZE_UNITS).map(([unit, n]) => [unit.toLowerCase(), n]));

/** How --help and the README state the grammar: from the tables above, so they cannot drift. */
export const UNITS_HELP =
  `Durations take a unit: ${Object.keys(DURATION_UNITS).join(', ')} (250ms, 10s, 1.5m, 1h; 0 alone means zero). ` +
  `Sizes: bytes, or ${Object.keys(SIZE_UNITS).filter((u) => u !== 'B').join(', ')} (65536, 64KiB, 32MiB, 2GB; any case).`;

export const formatDuration = (n: number): string =>
  n === 0 ? '0' : n % 3_600_000 === 0 ? `${n / 3_600_000}h` : n % 60_000 === 0 ? `${n / 60_000}m` : n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;

/** Which units a size is printed in: the family the operator wrote it in (`20000` stays bytes). */
export type SizeUnits = 'bytes' | 'binary' | 'decimal';
const FAMILY: Record<SizeUnits, readonly string[]> = { bytes: [], binary: ['GiB', 'MiB', 'KiB'], decimal: ['GB', 'MB', 'KB'] };

export const formatSize = (n: number, units: SizeUnits = 'binary'): string => {
  for (const unit of FAMILY[units]) {
    const per = SIZE_UNITS[unit] ?? 1;
    if (n >= per && n % per === 0) return `${n / per}${unit}`;
  }
  return String(n);
};

/**
 * `250ms`, `10s`, `2m`, `1h`. The unit is required: `--flush-interval 5` meant 5 ms here and
 * 5 s to anyone used to Go or systemd, so it is refused rather than guessed. `0` alone is zero.
 * `source` names where the text came from (a flag or an environment variable).
 */
export function parseDuration(source: string, text: string, min: number, max: number): number {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(t);
  const value = t === '0' ? 0 : m === null ? NaN : Math.round(Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? NaN));
  return inRange(source, text, value, min, max, 'a duration with a unit, like 250ms, 10s, 2m or 1h', formatDuration);
}

/** `1048576`, `64KiB`, `32MiB`, `2GB`; the unit in any case. */
export function parseSize(source: string, text: string, min: number, max: number): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unitText = (m?.[2] ?? '').toLowerCase();
  const unit = m === null ? undefined : unitText === '' ? 1 : SIZE_UNIT_BY_LOWER.get(unitText);
  const value = m === null || unit === undefined ? NaN : Number(m[1]) * unit;
  const units: SizeUnits = unitText === '' || unitText === 'b' ? 'bytes' : unitText.includes('i') ? 'binary' : 'decimal';
  return inRange(source, text, value, min, max, 'a size like 65536, 64KiB, 32MiB or 2GB', (n) => formatSize(n, units));
}

export function parseCount(source: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  return inRange(source, text, value, min, max, 'a whole number', String);
}

function inRange(source: string, text: string, value: number, min: number, max: number, what: string, show: (n: number) => string): number {
  if (!Number.isFinite(value)) throw new ConfigError(`${source} ${JSON.stringify(text)}: expected ${what}`);
  if (value < min || value > max) {
    throw new ConfigError(`${source} ${JSON.stringify(text)}: must be between ${show(min)} and ${show(max)}`);
  }
  return value;
}
