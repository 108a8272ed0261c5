import { useState } from 'react';
import { ApiError, auditor, get, tenantPath, type Tenant } from '../api';
import { ErrorLine, Section, TenantPicker } from '../components';

interface Figure {
  service: string;
  name: string;
  key: string;
  values: Record<string, number | string | boolean | null>;
  controls: string[];
  evidence: { rows: number };
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/** The auditor's compliance report for a period, when the auditor serves one; CSV and HTML open through the console. */
export function ReportsPage({ tenants }: { tenants: Tenant[] }) {
  const [tenantId, setTenantId] = useState(tenants[0]?.tenantId ?? '');
  const [from, setFrom] = useState(day(-30));
  const [to, setTo] = useState(day(1));
  const [report, setReport] = useState<unknown>(null);
  const [error, setError] = useState<string | null>(null);
  const path = (format: string) =>
    auditor(`${tenantPath(tenantId)}/reports/compliance?${new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), format })}`);

  const load = () =>
    get<unknown>(path('json')).then(
      (r) => {
        setReport(r);
        setError(null);
      },
      (e: Error) => {
        setReport(null);
        setError(e instanceof ApiError && e.status === 404 ? 'This auditor does not serve compliance reports (404).' : e.message);
      },
    );

  return (
    <Section title="Compliance reports">
      <div className="row">
        <TenantPicker tenants={tenants} value={tenantId} onChange={setTenantId} />
        <label>
          from <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          to <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button className="primary" onClick={() => void load()} data-testid="load-report">
          Show report
        </button>
        <a href={path('html')} target="_blank" rel="noreferrer">
          HTML
        </a>
        <a href={path('csv')}>CSV</a>
      </div>
      <ErrorLine error={error} />
      {report !== null && (
        <>
          <table data-testid="report-figures">
            <thead>
              <tr>
                <th>service</th>
                <th>figure</th>
                <th>of</th>
                <th>values</th>
                <th>controls</th>
                <th>evidence rows</th>
              </tr>
            </thead>
            <tbody>
              {((report as { figures?: Figure[] }).figures ?? []).map((f, i) => (
                <tr key={i}>
                  <td>{f.service}</td>
                  <td>{f.name}</td>
                  <td>{f.key}</td>
                  <td>
                    {Object.entries(f.values)
                      .map(([k, v]) => `${k}: ${v === null ? '—' : String(v)}`)
                      .join(', ')}
                  </td>
                  <td className="muted">{f.controls.join(', ')}</td>
                  <td>{f.evidence.rows}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <details>
            <summary>The report as JSON (signed by the auditor; the HTML and CSV links above carry the same figures)</summary>
            <pre data-testid="report">{JSON.stringify(report, null, 2)}</pre>
          </details>
        </>
      )}
    </Section>
  );
}
