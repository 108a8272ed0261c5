import { useEffect, useState } from 'react';
import { currentSession, logout, type SessionInfo } from './api';
import { href, useRoute } from './router';
import { ApprovalsPage } from './pages/ApprovalsPage';
import { AuditPage } from './pages/AuditPage';
import { BreakerPage } from './pages/BreakerPage';
import { IncidentsPage } from './pages/IncidentsPage';
import { LoginPage } from './pages/LoginPage';
import { ReportsPage } from './pages/ReportsPage';
import { TenantsPage } from './pages/TenantsPage';
import { TimelinePage } from './pages/TimelinePage';

const NAV = [
  ['incidents', 'Incidents'],
  ['approvals', 'Approvals'],
  ['breaker', 'Breaker'],
  ['audit', 'Audit'],
  ['reports', 'Reports'],
  ['tenants', 'Tenants'],
] as const;

export function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    currentSession().then(setSession, () => setSession(null));
  }, []);

  if (session === undefined) return <p className="muted">Loading…</p>;
  if (session === null) return <LoginPage onLogin={setSession} />;

  const [page = 'incidents', ...rest] = route;
  const tenants = session.tenants;
  return (
    <div className="shell">
      <header>
        <strong>autoheal</strong>
        <nav>
          {NAV.map(([id, label]) => (
            <a key={id} href={href(id)} className={page === id ? 'active' : ''} data-testid={`nav-${id}`}>
              {label}
            </a>
          ))}
        </nav>
        <span className="muted" data-testid="scope">
          {tenants.length} tenant{tenants.length === 1 ? '' : 's'}: {tenants.map((t) => t.tenantId).join(', ') || 'none'}
        </span>
        <button onClick={() => void logout().then(() => setSession(null))}>Log out</button>
      </header>
      <main>
        {page === 'incidents' && rest.length === 2 ? (
          <TimelinePage tenantId={rest[0]} incidentId={rest[1]} />
        ) : page === 'approvals' ? (
          <ApprovalsPage tenants={tenants} />
        ) : page === 'breaker' ? (
          <BreakerPage />
        ) : page === 'audit' ? (
          <AuditPage tenants={tenants} />
        ) : page === 'reports' ? (
          <ReportsPage tenants={tenants} />
        ) : page === 'tenants' ? (
          <TenantsPage tenants={tenants} />
        ) : (
          <IncidentsPage />
        )}
      </main>
    </div>
  );
}
