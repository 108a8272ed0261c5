import fc from 'fast-check';
import { EVIDENCE_SEQ_LIMIT } from './compliance-report';
import { assembleReport, evidenceOf, percentile, unionLength, type IncidentFact, type ReportFacts } from './report-figures';
import { csvField, escapeHtml, renderReport } from './report-render';

const FROM = new Date('2026-03-01T00:00:00.000Z');
const TO = new Date('2026-03-02T00:00:00.000Z');
const at = (minutes: number) => new Date(FROM.getTime() + minutes * 60_000).toISOString();

function incident(over: Partial<IncidentFact> & { openedSeq: number }): IncidentFact {
  return { service: 'api', openedAt: at(0), signalAt: at(0), detectionMs: 1_000, resolvedSeq: null, resolvedAt: null, verifiedSeq: null, ttrMs: null, ...over };
}

function facts(over: Partial<ReportFacts>): ReportFacts {
  return { tenantId: 'acme', from: FROM, to: TO, throughSeq: 100, generatedAt: TO, thresholds: null, incidents: [], counts: [], items: [], ...over };
}

describe('report figures', () => {
  it('evidence: the first and last seq, each type\'s first row, and every seq only up to the limit (against sorting them all)', () => {
    const row = fc.tuple(fc.constantFrom('incident.opened', 'incident.resolved', 'remediation.verified'), fc.integer({ min: 1, max: 1_000_000 }));
    fc.assert(
      fc.property(fc.array(row, { maxLength: EVIDENCE_SEQ_LIMIT * 2 }), (rows) => {
        const sorted = rows.map(([, seq]) => seq).sort((a, b) => a - b);
        const got = evidenceOf('acme', rows);
        expect({ rows: got.rows, firstSeq: got.firstSeq, lastSeq: got.lastSeq, seqs: got.seqs }).toEqual({
          rows: rows.length,
          firstSeq: sorted[0] ?? null,
          lastSeq: sorted.length > 0 ? sorted[sorted.length - 1] : null,
          seqs: sorted.length <= EVIDENCE_SEQ_LIMIT ? sorted : null,
        });
        const firsts = new Map<string, number>();
        for (const [type, seq] of [...rows].sort((a, b) => a[1] - b[1])) if (!firsts.has(type)) firsts.set(type, seq);
        expect(got.links).toHaveLength(firsts.size);
      }),
    );
  });

  it.each([
    [[], 0],
    [[[0, 10]], 10],
    [[[0, 10], [5, 15]], 15],
    [[[0, 10], [10, 20]], 20],
    [[[0, 10], [20, 30]], 20],
    [[[0, 30], [5, 10]], 30],
    [[[5, 5]], 0],
  ] as [[number, number][], number][])('the union of %j lasts %d', (intervals, expected) => {
    expect(unionLength(intervals)).toBe(expected);
  });

  it.each([
    [[7], 50, 7],
    [[1, 2], 50, 1],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 95, 4],
    [Array.from({ length: 20 }, (_, i) => i + 1), 95, 19],
    [Array.from({ length: 100 }, (_, i) => i + 1), 95, 95],
  ])('nearest rank: p%#', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('counts downtime inside the period only: one before it clipped, one still open to its end, overlaps once', () => {
    const report = assembleReport(
      facts({
        thresholds: { policyVersion: 'v1', availabilityTarget: 0.99, maxTimeToRemediateMs: 600_000, seq: 1 },
        incidents: [
          incident({ openedSeq: 1, openedAt: at(-50), signalAt: at(-60), resolvedSeq: 2, resolvedAt: at(30) }),
          incident({ openedSeq: 3, openedAt: at(20), signalAt: at(20), resolvedSeq: 4, resolvedAt: at(40), verifiedSeq: 5, ttrMs: 1_200_000 }),
          incident({ openedSeq: 6, openedAt: at(1_430), signalAt: at(1_430) }),
          incident({ service: 'db', openedSeq: 7, openedAt: at(-100), signalAt: at(-100), resolvedSeq: 8, resolvedAt: at(-90) }),
        ],
      }),
    );
    expect(report.services).toEqual(['api']);
    const availability = report.figures.find((f) => f.name === 'availability')!;
    expect(availability.values).toMatchObject({ downtimeMs: 50 * 60_000, incidents: 3, met: false, target: 0.99 });
    expect(availability.evidence).toMatchObject({ rows: 5, seqs: [1, 2, 3, 4, 6] });
    const ttr = report.figures.find((f) => f.name === 'time_to_remediate')!;
    expect(ttr.values).toMatchObject({ count: 1, max: 1_200_000, overThreshold: 1, unverified: 1, threshold: 600_000 });
    expect(ttr.evidence.links).toEqual([
      `/v1/tenants/acme/audit?type=incident.opened&cursor=${Buffer.from('seq:2').toString('base64url')}`,
      `/v1/tenants/acme/audit?type=remediation.verified&cursor=${Buffer.from('seq:4').toString('base64url')}`,
    ]);
  });

  it('says nothing is met or over a threshold when the trail recorded no thresholds', () => {
    const report = assembleReport(facts({ incidents: [incident({ openedSeq: 1, resolvedSeq: 2, resolvedAt: at(5), verifiedSeq: 3, ttrMs: 5 })] }));
    expect(report.figures.find((f) => f.name === 'availability')!.values).toMatchObject({ met: null, target: null });
    expect(report.figures.find((f) => f.name === 'time_to_remediate')!.values).toMatchObject({ overThreshold: null, threshold: null });
  });

  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['=1+1', "'=1+1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['-2', "'-2"],
    [-2, '-2'],
    [null, ''],
    [true, 'true'],
  ])('CSV field %j as %s', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it('escapes markup and quotes in HTML, and renders the same bytes twice', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    const report = assembleReport(facts({ items: [{ name: 'breach', service: '*', key: 'availability', eventType: 'compliance.breach', seq: 9, values: { reason: '<img src=x>' } }] }));
    const html = renderReport(report, 'html');
    expect(html).not.toContain('<img');
    expect(html).toBe(renderReport(report, 'html'));
  });
});
