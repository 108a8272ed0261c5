import { useEffect, useState } from 'react';
import { auditor, get, tenantPath, type Tenant } from '../api';
import { Badge, ErrorLine, Section, TenantPicker, time } from '../components';

interface Row {
  seq: number;
  eventType: string;
  occurredAt: string;
  actor: string;
  action: string;
  outcome: string;
  correlationId: string | null;
  hash: string;
}
interface Verify {
  ok: boolean;
  checkedRows: number;
  headSeq: number;
  checkpointedSeq: number;
  firstBreak: { seq: number; reason: string; detail: string } | null;
}

const PAGE = 50;

/** A tenant's trail, oldest first, a page at a time; verify the chain; download an export bundle. */
export function AuditPage({ tenants }: { tenants: Tenant[] }) {
  const [tenantId, setTenantId] = useState(tenants[0]?.tenantId ?? '');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<{ items: Row[]; nextCursor: string | null } | null>(null);
  const [verify, setVerify] = useState<Verify | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    if (!tenantId) return;
    const query = new URLSearchParams({ limit: String(PAGE), ...(cursor ? { cursor } : {}) });
    get<{ items: Row[]; nextCursor: string | null }>(auditor(`${tenantPath(tenantId)}/audit?${query}`)).then(
      (p) => {
        setPage(p);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  }, [tenantId, cursor]);

  const pick = (t: string) => {
    setTenantId(t);
    setCursors([null]);
    setVerify(null);
  };
  const runVerify = () => get<Verify>(auditor(`${tenantPath(tenantId)}/audit/verify`)).then(setVerify, (e: Error) => setError(e.message));
  const download = () =>
    get<{ files: Record<string, string> }>(auditor(`${tenantPath(tenantId)}/audit/export`)).then((bundle) => {
      const url = URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `audit-${tenantId}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
      a.click();
      URL.revokeObjectURL(url);
    }, (e: Error) => setError(e.message));

  return (
    <Section title="Audit trail">
      <div className="row">
        <TenantPicker tenants={tenants} value={tenantId} onChange={pick} />
        <button onClick={() => void runVerify()} data-testid="verify">
          Verify chain
        </button>
        <button onClick={() => void download()} data-testid="export">
          Export bundle
        </button>
        <span className="muted">The bundle verifies offline: npm run autoheal -- audit verify-bundle</span>
      </div>
      <ErrorLine error={error} />
      {verify && (
        <p data-testid="verify-result" className={verify.ok ? 'ok' : 'error'}>
          {verify.ok ? `Chain intact: ${verify.checkedRows} rows checked, head at seq ${verify.headSeq}, signed checkpoint matched at seq ${verify.checkpointedSeq}.` : `Chain broken at seq ${verify.firstBreak?.seq}: ${verify.firstBreak?.reason} — ${verify.firstBreak?.detail}`}
        </p>
      )}
      {page && (
        <>
          <table data-testid="audit">
            <thead>
              <tr>
                <th>seq</th>
                <th>when</th>
                <th>event</th>
                <th>actor</th>
                <th>action</th>
                <th>outcome</th>
                <th>hash</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((r) => (
                <tr key={r.seq} data-testid="audit-row">
                  <td>{r.seq}</td>
                  <td>{time(r.occurredAt)}</td>
                  <td>{r.eventType}</td>
                  <td>{r.actor}</td>
                  <td>{r.action}</td>
                  <td>
                    <Badge value={r.outcome} />
                  </td>
                  <td className="muted">{r.hash.slice(0, 12)}…</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="row">
            <button disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
              ← Previous
            </button>
            <button disabled={!page.nextCursor} onClick={() => setCursors((c) => [...c, page.nextCursor])} data-testid="next-page">
              Next →
            </button>
            <span className="muted">page {cursors.length}</span>
          </div>
        </>
      )}
    </Section>
  );
}
