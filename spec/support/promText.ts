// A small, strict parser of the Prometheus text exposition format (version 0.0.4), for tests
// that scrape /metrics: prom-client writes the format but does not read it. Strict means any
// line it does not understand, a sample without a # TYPE before it, a duplicate series, a bad
// escape or a histogram whose buckets are not cumulative is an error, not something skipped.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string; // as written, e.g. x_bucket
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: MetricType;
  help: string | undefined;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Parses `{a="x",b="y"}` from position `at` (just after `{`); returns the labels and the index after `}`. */
function parseLabels(text: string, at: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at;
  const fail = (why: string): never => {
    throw new Error(`line ${line}: ${why} at column ${i + 1}`);
  };
  while (true) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const nameEnd = text.indexOf('=', i);
    if (nameEnd < 0) fail('label without =');
    const name = text.slice(i, nameEnd);
    if (!LABEL_NAME.test(name)) fail(`bad label name ${JSON.stringify(name)}`);
    if (name in labels) fail(`label ${name} twice`);
    i = nameEnd + 1;
    if (text[i] !== '"') fail('label value not quoted');
    i += 1;
    let value = '';
    while (text[i] !== '"') {
      if (i >= text.length) fail('unterminated label value');
      if (text[i] === '\\') {
        const next = text[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else fail(`bad escape \\${next ?? ''}`);
        i += 2;
      } else {
        value += text[i];
        i += 1;
      }
    }
    labels[name] = value;
    i += 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') fail('expected , or }');
  }
}

/** The family a sample name belongs to, given the families declared so far. */
function familyOf(sampleName: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const direct = families.get(sampleName);
  if (direct !== undefined) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = families.get(sampleName.slice(0, -suffix.length));
    if (family !== undefined && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family;
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${JSON.stringify(name)}`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: unknown type ${JSON.stringify(rest)}`);
        if (families.get(name)?.samples.length) throw new Error(`line ${line}: TYPE of ${name} after its samples`);
        const help = families.get(name)?.help;
        families.set(name, { name, type: rest as MetricType, help, samples: [] });
      } else {
        const family = families.get(name);
        if (family !== undefined) family.help = unescapeHelp(rest);
        else families.set(name, { name, type: 'untyped', help: unescapeHelp(rest), samples: [] });
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (nameMatch === null) throw new Error(`line ${line}: not a sample: ${JSON.stringify(raw)}`);
    const sampleName = nameMatch[0];
    let at = sampleName.length;
    let labels: Record<string, string> = {};
    if (raw[at] === '{') ({ labels, end: at } = parseLabels(raw, at + 1, line));
    const rest = raw.slice(at);
    const vm = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
    if (vm === null) throw new Error(`line ${line}: expected " value [timestamp]" after the labels: ${JSON.stringify(rest)}`);
    const family = familyOf(sampleName, families);
    if (family === undefined) throw new Error(`line ${line}: sample ${sampleName} has no # TYPE before it`);
    const key = `${sampleName}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`line ${line}: duplicate series ${key}`);
    seen.add(key);
    family.samples.push({ name: sampleName, labels, value: parseValue(vm[1]!, line) });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** Buckets cumulative, ending in le="+Inf" equal to _count, for every label set. */
function checkHistogram(family: MetricFamily): void {
  const groups = new Map<string, Sample[]>();
  for (const s of family.samples.filter((x) => x.name === `${family.name}_bucket`)) {
    const { le, ...rest } = s.labels;
    if (le === undefined) throw new Error(`${family.name}: bucket without le`);
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, buckets] of groups) {
    const sorted = [...buckets].sort((a, b) => parseValue(a.labels.le!, 0) - parseValue(b.labels.le!, 0));
    for (let i = 1; i < sorted.length; i += 1) {
      if (sorted[i]!.value < sorted[i - 1]!.value) throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    const last = sorted[sorted.length - 1]!;
    if (last.labels.le !== '+Inf') throw new Error(`${family.name}${key}: no +Inf bucket`);
    const count = family.samples.find((s) => s.name === `${family.name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === key);
    if (count?.value !== last.value) throw new Error(`${family.name}${key}: +Inf bucket ${last.value} != _count ${count?.value}`);
  }
}

/** Sum of a family's samples (named `sample`, default the family's own name) whose labels include `where`. */
export function sumOf(families: Map<string, MetricFamily>, family: string, where: Record<string, string> = {}, sample = family): number {
  const f = families.get(family);
  if (f === undefined) throw new Error(`no metric family ${family}`);
  return f.samples
    .filter((s) => s.name === sample && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}
