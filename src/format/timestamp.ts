// The syslog TIMESTAMP: the record's LogTime in UTC when its zone says exactly which instant it
// is, else the time the collector received the record. Format as logplex writes it,
// `2026-11-25T01:43:51.596000+00:00` (microseconds; LogTime has milliseconds).
//
// Unambiguous zones: `UTC`, `GMT`, `Z` and numeric offsets (`+03`, `-0330`, `+05:30`, `-00`).
// Abbreviations such as `CET` or `IST` are not: the same letters name different offsets, and
// which one PostgreSQL meant depends on its tz database, so receivedAt (seconds off at worst)
// beats a guess (hours off).
//
// This runs once per record. Records of one second share everything but the milliseconds, so the
// converted `YYYY-MM-DDTHH:MM:SS` is cached per distinct (second, zone) string.

// LogTime is `YYYY-MM-DD HH:MM:SS.mmm ZONE`: fixed positions up to the zone.
const SECONDS_END = 19; // the `.` before the milliseconds
const MILLIS_END = 23; // the space before the zone
const ZONE_START = 24;

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const NUMERIC_ZONE = /^([+-])(\d{2})(?::?(\d{2}))?$/;
const UTC_ZONES: ReadonlySet<string> = new Set(['UTC', 'GMT', 'Z']);

// Enough for every second of a busy minute across a few zones; cleared when full, which costs
// one parse per entry and keeps the memory bound trivially obvious.
const CACHE_LIMIT = 1024;
const secondsCache = new Map<string, string | null>();

// In front of the map, the last (second, zone) seen: consecutive records nearly always share it,
// and comparing it in place (startsWith/endsWith on the LogTime) costs neither the key string nor
// its hash. Keyed by the exact characters of the second and of the zone (everything but the
// milliseconds), as the map is, so a hit is the same answer the map would give; one entry, so
// its bound is obvious. The initial values match no LogTime (the length check fails).
let lastSeconds = ''; // logTime.slice(0, SECONDS_END) of the last lookup
let lastZone = ''; // logTime.slice(MILLIS_END), the space included, of the last lookup
let lastUtc: string | null = null; // its answer: `YYYY-MM-DDTHH:MM:SS` in UTC, or null

/** Milliseconds since the epoch → `2026-11-25T01:43:51.596000+00:00`. */
export function formatUtcMicros(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 23) + '000+00:00';
}

/** Whole seconds of a Date → `2026-11-25T01:43:51+00:00`, as the L10 notices print `since`. */
export function formatUtcSeconds(at: Date): string {
  return at.toISOString().slice(0, 19) + '+00:00';
}

/** Offset east of UTC in minutes, or null when the zone does not name one instant. */
function zoneOffsetMinutes(zone: string): number | null {
  if (UTC_ZONES.has(zone)) return 0;
  const m = NUMERIC_ZONE.exec(zone);
  if (m === null) return null;
  const hours = Number(m[2]);
  const minutes = m[3] === undefined ? 0 : Number(m[3]);
  if (hours > 23 || minutes > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

/** `2026-11-25 04:43:51` with zone `+03` → `2026-11-25T01:43:51`, or null. */
function utcSeconds(dateTime: string, zone: string): string | null {
  const offset = zoneOffsetMinutes(zone);
  if (offset === null) return null;
  const m = DATE_TIME.exec(dateTime);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  // Date.UTC reads years 0-99 as 1900-1999; no PostgreSQL clock is that far off.
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 2026-02-30 over into March; a date that does not exist is not a LogTime.
  if (new Date(local).getUTCDate() !== day) return null;
  return new Date(local - offset * 60_000).toISOString().slice(0, SECONDS_END);
}

function isDigitAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

/** LogTime in UTC as `…T01:43:51.596000+00:00`, or undefined when its zone is ambiguous. */
export function logTimeUtc(logTime: string): string | undefined {
  if (
    logTime.length <= ZONE_START ||
    logTime.charCodeAt(SECONDS_END) !== 0x2e /* . */ ||
    logTime.charCodeAt(MILLIS_END) !== 0x20 ||
    !isDigitAt(logTime, 20) ||
    !isDigitAt(logTime, 21) ||
    !isDigitAt(logTime, 22)
  ) {
    return undefined;
  }
  let seconds: string | null;
  if (logTime.length === MILLIS_END + lastZone.length && logTime.startsWith(lastSeconds) && logTime.endsWith(lastZone)) {
    seconds = lastUtc;
  } else {
    const key = logTime.slice(0, SECONDS_END) + logTime.slice(MILLIS_END);
    let cached = secondsCache.get(key);
    if (cached === undefined) {
      cached = utcSeconds(logTime.slice(0, SECONDS_END), logTime.slice(ZONE_START));
      if (secondsCache.size >= CACHE_LIMIT) secondsCache.clear();
      secondsCache.set(key, cached);
    }
    seconds = cached;
    lastSeconds = logTime.slice(0, SECONDS_END);
    lastZone = logTime.slice(MILLIS_END);
    lastUtc = cached;
  }
  if (seconds === null) return undefined;
  return `${seconds}.${logTime.slice(SECONDS_END + 1, MILLIS_END)}000+00:00`;
}

/** The frame's TIMESTAMP: LogTime when unambiguous, else receivedAt (ms since the epoch). */
export function syslogTimestamp(logTime: string, receivedAt: number): string {
  return logTimeUtc(logTime) ?? formatUtcMicros(receivedAt);
}
