import { useCallback, useEffect, useState } from 'react';
import { auditor, decision, get, post, tenantPath, type Tenant } from '../api';
import { ErrorLine, Section, time } from '../components';
import { href } from '../router';

interface Pending {
  tenantId: string;
  remediationId: string;
  incidentId: string;
  service: string;
  instance: string;
  action: string;
  requestedAt: string;
  expiresAt: string;
  reason: string;
  policyVersion: string;
}

interface Settled {
  remediationId: string;
  status: string;
}

/** Remediations waiting for a person, every tenant in scope; approve or reject with a reason, as the logged-in person. */
export function ApprovalsPage({ tenants }: { tenants: Tenant[] }) {
  const [items, setItems] = useState<Pending[]>([]);
  const [reasons, setReasons] = useState<Record<string, string>>({});
  const [settled, setSettled] = useState<Settled[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const pages = await Promise.all(
      tenants.map((t) => get<{ items: Omit<Pending, 'tenantId'>[] }>(auditor(`${tenantPath(t.tenantId)}/approvals/pending`)).then((p) => p.items.map((i) => ({ ...i, tenantId: t.tenantId })))),
    );
    setItems(pages.flat().sort((a, b) => b.requestedAt.localeCompare(a.requestedAt)));
  }, [tenants]);

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () =>
      load()
        .then(() => setError(null), (e: Error) => setError(e.message))
        .finally(() => {
          if (!stop) timer = setTimeout(tick, 5_000);
        });
    void tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [load]);

  const review = (item: Pending, verdict: 'approve' | 'reject') => {
    const reason = (reasons[item.remediationId] ?? '').trim();
    if (!reason) return setError('Give a reason: it is recorded with your decision.');
    post<Settled>(decision(`/v1/admin/remediations/${item.remediationId}:${verdict}`), { reason }).then(
      (result) => {
        setSettled((s) => [result, ...s]);
        setItems((current) => current.filter((i) => i.remediationId !== item.remediationId));
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  };

  return (
    <>
      <Section title="Pending approvals">
        <ErrorLine error={error} />
        {items.length === 0 ? (
          <p className="muted" data-testid="no-approvals">
            Nothing awaits approval in your tenants.
          </p>
        ) : (
          <table data-testid="approvals">
            <thead>
              <tr>
                <th>requested</th>
                <th>tenant</th>
                <th>target</th>
                <th>action</th>
                <th>why</th>
                <th>expires</th>
                <th>your reason</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((i) => (
                <tr key={i.remediationId} data-testid="approval-row" data-instance={i.instance} data-remediation={i.remediationId}>
                  <td>
                    <a href={href('incidents', i.tenantId, i.incidentId)}>{time(i.requestedAt)}</a>
                  </td>
                  <td>{i.tenantId}</td>
                  <td>
                    {i.service} / {i.instance}
                  </td>
                  <td>
                    <strong>{i.action}</strong>
                  </td>
                  <td>{i.reason}</td>
                  <td>{time(i.expiresAt)}</td>
                  <td>
                    <input value={reasons[i.remediationId] ?? ''} onChange={(e) => setReasons((r) => ({ ...r, [i.remediationId]: e.target.value }))} placeholder="reason" data-testid="reason" />
                  </td>
                  <td>
                    <button className="primary" onClick={() => review(i, 'approve')} data-testid="approve">
                      Approve
                    </button>{' '}
                    <button className="danger" onClick={() => review(i, 'reject')} data-testid="reject">
                      Reject
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {settled.length > 0 && (
        <Section title="Settled by you in this session">
          <ul data-testid="settled">
            {settled.map((s) => (
              <li key={s.remediationId}>
                {s.remediationId.slice(0, 8)}… → <strong>{s.status}</strong>
              </li>
            ))}
          </ul>
        </Section>
      )}
    </>
  );
}
