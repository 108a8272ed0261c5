import { leaseHolder, MAX_RECORDS, newRecord, readRecords, REMEDIATIONS_ANNOTATION, replay, withRecord, type RemediationRecord } from './remediation-record.js';

const done = (id: string): RemediationRecord => ({ ...newRecord(id, 'restart', 'h', new Date(0)), phase: 'done', outcome: { ok: true, details: { n: 1 } } });

describe('the remediations annotation', () => {
  it('keeps the other annotations and replaces the record of the same id', () => {
    const first = withRecord({ team: 'payments' }, newRecord('r1', 'restart', 'h1', new Date('2030-01-01T00:00:00Z')));
    const second = withRecord(first, done('r1'));
    expect(second.team).toBe('payments');
    expect(readRecords(second)).toEqual([done('r1')]);
  });

  it(`holds at most ${MAX_RECORDS} records, dropping the oldest finished ones and never one that is acting`, () => {
    let annotations: Record<string, string> = withRecord({}, newRecord('acting', 'scale_out', 'h', new Date('2030-01-01T00:00:00Z')));
    for (let i = 0; i < MAX_RECORDS + 5; i++) annotations = withRecord(annotations, done(`r${i}`));
    const ids = readRecords(annotations).map((r) => r.id);
    expect(ids).toHaveLength(MAX_RECORDS);
    expect(ids[0]).toBe('acting');
    expect(ids.at(-1)).toBe(`r${MAX_RECORDS + 4}`);
    expect(ids).not.toContain('r0');
  });

  it.each([['not JSON', '{'], ['not records', '[{"id":1}]']])('reads an annotation that is %s as no records rather than blocking the workload', (_name, raw) => {
    expect(readRecords({ [REMEDIATIONS_ANNOTATION]: raw })).toEqual([]);
  });

  it('a lease holds until its time, and only while acting', () => {
    const acting = newRecord('r1', 'restart', 'h', new Date('2030-01-01T00:00:10Z'));
    expect(leaseHolder([acting], new Date('2030-01-01T00:00:09Z'))?.id).toBe('r1');
    expect(leaseHolder([acting], new Date('2030-01-01T00:00:10Z'))).toBeUndefined();
    expect(leaseHolder([{ ...acting, phase: 'done' }], new Date('2030-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('replays the first outcome: success as replayed with the recorded effects, failure as it was', () => {
    const effects = [{ verb: 'restarted' as const, object: 'pod/web-1' }];
    expect(replay({ ...done('r1'), effects })).toEqual({ ok: true, effects, replayed: true, details: { n: 1, replayed: true } });
    expect(replay({ ...done('r2'), outcome: { ok: false, error: { code: 'at_capacity', message: 'full' } } })).toEqual({ ok: false, error: { code: 'at_capacity', message: 'full' } });
  });
});
