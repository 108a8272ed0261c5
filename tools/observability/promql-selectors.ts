/** A series selector found in a PromQL expression: the metric name and the label names it matches on. */
export interface Selector {
  metric: string;
  labels: string[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/**
 * The series selectors of a PromQL expression (a small scanner, not a parser: enough for the
 * expressions of our dashboards and rules, whose syntax `promtool` checks). Grafana's variables
 * are replaced first, so a dashboard expression reads as plain PromQL.
 */
export function selectorsIn(expression: string): Selector[] {
  let e = expression
    // Grafana's interval variables stand for a duration; the others only occur inside strings.
    .replace(/\$\{?__(?:rate_)?(?:interval|range)\}?/g, '5m')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  // Numbers (0.95, 1e9) and durations (offset 5m) before identifiers, so neither an exponent nor a unit is read as a name.
  e = e.replace(/(^|[^A-Za-z0-9_:])\d[\d.]*(?:e[+-]?\d+)?(?:ms|[smhdwy])*/gi, '$1 0');
  const out: Selector[] = [];
  const token = /([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (let m = token.exec(e); m !== null; m = token.exec(e)) {
    const [, name, matchers, call] = m;
    if (call !== undefined && matchers === undefined) continue; // a function or an aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    const labels = [...(matchers ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]);
    out.push({ metric: name, labels });
  }
  return out;
}
