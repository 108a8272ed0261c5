import { useEffect, useState } from 'react';
import { decision, get, type Tenant } from '../api';
import { ErrorLine, Section, TenantPicker, time } from '../components';

interface Version {
  seq: number;
  version: string;
  previousVersion: string | null;
  appliedAt: string;
  appliedBy: string;
  changes: { path: string }[];
}
interface Change {
  path: string;
  from?: unknown;
  to?: unknown;
}

const show = (v: unknown) => (v === undefined ? '—' : JSON.stringify(v));

/** Tenants as code: the current document, its versions, and what changed between two of them. */
export function TenantsPage({ tenants }: { tenants: Tenant[] }) {
  const [tenantId, setTenantId] = useState(tenants[0]?.tenantId ?? '');
  const [current, setCurrent] = useState<{ policyVersion?: string; document: unknown } | null>(null);
  const [versions, setVersions] = useState<Version[]>([]);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [diff, setDiff] = useState<{ from: string; to: string; changes: Change[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const base = `/v1/admin/tenants/${encodeURIComponent(tenantId)}`;

  useEffect(() => {
    if (!tenantId) return;
    setDiff(null);
    Promise.all([get<{ policyVersion?: string; document: unknown }>(decision(base)), get<{ items: Version[] }>(decision(`${base}/versions?limit=50`))]).then(
      ([doc, page]) => {
        setCurrent(doc);
        setVersions(page.items);
        setFrom(page.items[1]?.version ?? page.items[0]?.version ?? '');
        setTo(page.items[0]?.version ?? '');
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  }, [base, tenantId]);

  const compare = () =>
    get<{ from: string; to: string; changes: Change[] }>(decision(`${base}/diff?${new URLSearchParams({ from, to })}`)).then(setDiff, (e: Error) => setError(e.message));
  const options = versions.map((v) => (
    <option key={v.version} value={v.version}>
      {v.version.slice(0, 12)} ({time(v.appliedAt)})
    </option>
  ));

  return (
    <>
      <Section title="Tenant documents">
        <div className="row">
          <TenantPicker tenants={tenants} value={tenantId} onChange={setTenantId} />
          <span className="muted">Changed with npm run autoheal -- tenants apply (operators); the console only reads.</span>
        </div>
        <ErrorLine error={error} />
        <table data-testid="versions">
          <thead>
            <tr>
              <th>version</th>
              <th>applied</th>
              <th>by</th>
              <th>changed paths</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version}>
                <td>
                  <code>{v.version.slice(0, 12)}</code>
                </td>
                <td>{time(v.appliedAt)}</td>
                <td>{v.appliedBy}</td>
                <td className="muted">{v.changes.length === 0 ? '(first version)' : v.changes.map((c) => c.path).slice(0, 6).join(', ') + (v.changes.length > 6 ? ', …' : '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Diff">
        <div className="row">
          <select value={from} onChange={(e) => setFrom(e.target.value)}>
            {options}
          </select>
          →
          <select value={to} onChange={(e) => setTo(e.target.value)}>
            {options}
          </select>
          <button onClick={() => void compare()} disabled={!from || !to} data-testid="diff">
            Compare
          </button>
        </div>
        {diff && (
          <table data-testid="diff-result">
            <tbody>
              {diff.changes.length === 0 && (
                <tr>
                  <td className="muted">No change between these versions.</td>
                </tr>
              )}
              {diff.changes.map((c) => (
                <tr key={c.path}>
                  <td>
                    <code>{c.path}</code>
                  </td>
                  <td className="diff-from">{show(c.from)}</td>
                  <td className="diff-to">{show(c.to)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {current && (
        <Section title={`Current document${current.policyVersion ? ` (${current.policyVersion.slice(0, 12)})` : ''}`}>
          <pre data-testid="document">{JSON.stringify(current.document, null, 2)}</pre>
        </Section>
      )}
    </>
  );
}
