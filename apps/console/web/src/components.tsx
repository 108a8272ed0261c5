import type { ReactNode } from 'react';
import type { Tenant } from './api';

export function ErrorLine({ error }: { error: string | null }) {
  return error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function TenantPicker({ tenants, value, onChange }: { tenants: Tenant[]; value: string; onChange: (t: string) => void }) {
  return (
    <label>
      Tenant{' '}
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid="tenant-picker">
        {tenants.map((t) => (
          <option key={t.tenantId} value={t.tenantId}>
            {t.displayName ? `${t.displayName} (${t.tenantId})` : t.tenantId}
          </option>
        ))}
      </select>
    </label>
  );
}

export function Badge({ value }: { value: string }) {
  return <span className={`badge badge-${value.replace(/[^a-z_]/gi, '')}`}>{value}</span>;
}

export const time = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
export const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section>
      <div className="section-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
