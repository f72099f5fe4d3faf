// deploy/alerts.yml and deploy/grafana-dashboard.json name metrics; a typo there is an alert
// that never fires or a panel that stays empty. Every name they use, and every label they group
// or match on, is checked against what a real daemon exports when scraped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemonBed } from '../support/daemonBed';
import { parsePrometheusText, type MetricFamily } from '../support/promText';
import { httpGet } from './support';

const ROOT = join(__dirname, '../..');
const ALERTS = readFileSync(join(ROOT, 'deploy/alerts.yml'), 'utf8');
const DASHBOARD = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana-dashboard.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
const TOKEN = 't.5ca1ab1e-0000-4000-8000-0000000de910';
/** The label a family breaks a serve's series down by, present once something was counted. */
const BREAKDOWN: Readonly<Record<string, readonly string[]>> = {
  connections_refused_total: ['reason'],
  protocol_errors_total: ['code'],
  lines_dropped_total: ['reason'],
  posts_total: ['status'],
  spool_failures_total: ['op'],
};
/** Labels Prometheus adds (instance, job) or that histograms have (le). */
const ADDED_LABELS = new Set(['instance', 'job', 'le']);

/** The alert rules' expressions (one-line or `|` blocks), by alert name. */
function alertRules(text: string): Map<string, { expr: string; block: string }> {
  const rules = new Map<string, { expr: string; block: string }>();
  for (const block of text.split(/\n(?=\s*- alert: )/).slice(1)) {
    const name = /- alert: (\S+)/.exec(block)?.[1];
    const inline = /\n\s*expr: (?!\|)(.+)/.exec(block)?.[1];
    const folded = /\n(\s*)expr: \|\n((?:\1\s+.+\n?)+)/.exec(block)?.[2];
    const expr = inline ?? folded?.replace(/\s+/g, ' ').trim();
    if (name === undefined || expr === undefined) throw new Error(`alerts.yml: a rule without alert or expr:\n${block}`);
    rules.set(name, { expr, block });
  }
  return rules;
}

const dashboardExprs = (): string[] => DASHBOARD.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

/** The families an expression reads: `pg_logplexcollector_x`, a histogram's `_bucket` read as its family. */
function familiesIn(expr: string, exported: Map<string, MetricFamily>): { name: string; family: MetricFamily | undefined }[] {
  return [...expr.matchAll(/\bpg_logplexcollector_[a-z0-9_]+/g)].map(([name]) => {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const family = exported.get(name) ?? (exported.get(base)?.type === 'histogram' ? exported.get(base) : undefined);
    return { name, family };
  });
}

/** Label names an expression groups by or matches on. */
function labelsIn(expr: string): string[] {
  const grouped = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()).filter((l) => l !== ''));
  const matched = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]!));
  return [...grouped, ...matched];
}

describe('deploy/ alert rules and dashboard', () => {
  const bed = useDaemonBed('plc-dep');

  it('use only metrics and labels the daemon exports', async () => {
    bed.writeServes([{ i: 'db1', t: TOKEN, p: join(bed.dir, 'pg.sock'), name: 'BLUE' }]);
    const d = bed.start(['--metrics-listen', '127.0.0.1:0']);
    const { address } = await d.waitFor('metrics_listening');
    await d.waitFor('listening');
    const scrape = await httpGet(`http://${address}/metrics`);
    expect(scrape.status).toBe(200);
    const exported = parsePrometheusText(scrape.body);
    // Labels each family carries: those of its samples, and for one with none yet (nothing
    // refused or spooled on a fresh daemon) the serve's and the label it breaks down by.
    const labelsOf = (family: MetricFamily): Set<string> => {
      const seen = family.samples.flatMap((s) => Object.keys(s.labels));
      const unseen = family.samples.length === 0 ? ['serve', 'socket'] : [];
      return new Set([...seen, ...unseen, ...(BREAKDOWN[family.name.slice('pg_logplexcollector_'.length)] ?? [])]);
    };

    const rules = alertRules(ALERTS);
    // What the on-call engineer is promised an alert for.
    for (const name of ['PgLogplexCollectorSpoolGrowing', 'PgLogplexCollectorLinesDropped', 'PgLogplexCollectorPostsFailing', 'PgLogplexCollectorServeDbRejected']) {
      expect(rules.has(name)).toBe(true);
    }
    const exprs = [...[...rules.values()].map((r) => r.expr), ...dashboardExprs()];
    expect(dashboardExprs().length).toBeGreaterThan(20);
    const unknown: string[] = [];
    const badLabels: string[] = [];
    for (const expr of exprs) {
      const used = familiesIn(expr, exported);
      if (used.length === 0) unknown.push(`(no pg_logplexcollector_ metric) ${expr}`);
      for (const { name, family } of used) if (family === undefined) unknown.push(name);
      const known = new Set([...ADDED_LABELS, ...used.flatMap(({ family }) => (family === undefined ? [] : [...labelsOf(family)]))]);
      for (const label of labelsIn(expr)) if (!known.has(label)) badLabels.push(`${label} in ${expr}`);
    }
    expect(unknown).toEqual([]);
    expect(badLabels).toEqual([]);
    for (const [name, { block }] of rules) {
      expect([name, /\n\s*severity: (critical|warning|info)\n/.test(block), /\n\s*summary: .+/.test(block)]).toEqual([name, true, true]);
    }
    // The dashboard's panels each have an id of their own, and its selectors use its variables.
    const ids = DASHBOARD.panels.map((p) => (p as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
