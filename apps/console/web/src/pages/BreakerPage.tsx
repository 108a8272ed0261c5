import { useCallback, useEffect, useState } from 'react';
import { decision, get, post } from '../api';
import { Badge, ErrorLine, Section, time } from '../components';

interface BreakerState {
  open: boolean;
  reason: string | null;
  openedAt: string | null;
  resumedAt: string | null;
  resumedBy: string | null;
}
interface Overview extends BreakerState {
  tenants: (BreakerState & { tenantId: string })[];
}

/** The global breaker and each tenant's in scope; an open one can be resumed with a reason (approver or admin). */
export function BreakerPage() {
  const [overview, setOverview] = useState<Overview | null>(null);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => get<Overview>(decision('/v1/admin/breaker')).then(setOverview, (e: Error) => setError(e.message)), []);
  useEffect(() => void load(), [load]);

  const resume = (tenantId?: string) => {
    if (!reason.trim()) return setError('Give a reason: it is recorded with the resume.');
    const path = tenantId ? `/v1/admin/breaker/tenants/${encodeURIComponent(tenantId)}:resume` : '/v1/admin/breaker:resume';
    post(decision(path), { reason: reason.trim() }).then(() => {
      setError(null);
      void load();
    }, (e: Error) => setError(e.message));
  };

  const row = (label: string, s: BreakerState, tenantId?: string) => (
    <tr key={label} data-testid="breaker-row">
      <td>{label}</td>
      <td>
        <Badge value={s.open ? 'open' : 'closed'} />
      </td>
      <td>{s.reason ?? '—'}</td>
      <td>{time(s.openedAt)}</td>
      <td>{s.resumedAt ? `${time(s.resumedAt)} by ${s.resumedBy ?? '?'}` : '—'}</td>
      <td>{s.open && <button onClick={() => resume(tenantId)}>Resume</button>}</td>
    </tr>
  );

  return (
    <Section title="Circuit breakers" actions={<button onClick={() => void load()}>Refresh</button>}>
      <ErrorLine error={error} />
      <div className="row">
        <label>
          Reason for a resume <input value={reason} onChange={(e) => setReason(e.target.value)} size={40} />
        </label>
      </div>
      {overview && (
        <table data-testid="breakers">
          <thead>
            <tr>
              <th>breaker</th>
              <th>state</th>
              <th>why it opened</th>
              <th>opened</th>
              <th>last resumed</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {row('global', overview)}
            {overview.tenants.map((t) => row(t.tenantId, t, t.tenantId))}
          </tbody>
        </table>
      )}
      <p className="muted">A tenant whose breaker never opened is closed. Resuming the global breaker needs a credential over every tenant.</p>
    </Section>
  );
}
