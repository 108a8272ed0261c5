import { useEffect, useState } from 'react';
import { Badge, ErrorLine, Section, time } from '../components';
import { href } from '../router';

interface FeedIncident {
  tenantId: string;
  incidentId: string;
  service: string;
  instance: string;
  kind: string;
  severity: string;
  status: string;
  openedAt: string;
  resolvedAt: string | null;
  resolveReason: string | null;
}

const key = (i: FeedIncident) => `${i.tenantId}/${i.incidentId}`;

/** The live feed: the console's server pushes each incident that opens or changes (server-sent events). */
export function IncidentsPage() {
  const [items, setItems] = useState<FeedIncident[]>([]);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [state, setState] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const source = new EventSource('/api/feed');
    source.onopen = () => setState('live');
    source.onerror = () => setState('reconnecting');
    source.addEventListener('snapshot', (e) => {
      setItems((JSON.parse((e as MessageEvent<string>).data) as { items: FeedIncident[] }).items);
      setProblem(null);
    });
    source.addEventListener('incident', (e) => {
      const { incident } = JSON.parse((e as MessageEvent<string>).data) as { change: string; incident: FeedIncident };
      setItems((current) => [incident, ...current.filter((i) => key(i) !== key(incident))].sort((a, b) => b.openedAt.localeCompare(a.openedAt)));
      setFresh((f) => new Set(f).add(key(incident)));
      setProblem(null);
    });
    source.addEventListener('problem', (e) => setProblem((JSON.parse((e as MessageEvent<string>).data) as { messages: string[] }).messages.join('; ')));
    return () => source.close();
  }, []);

  return (
    <Section title="Incidents" actions={<span className={state === 'live' ? 'live' : 'muted'} data-testid="feed-state">{state}</span>}>
      <ErrorLine error={problem} />
      {items.length === 0 ? (
        <p className="muted">No incidents in your tenants yet. New ones appear here as they open.</p>
      ) : (
        <table data-testid="incidents">
          <thead>
            <tr>
              <th>opened</th>
              <th>tenant</th>
              <th>service / instance</th>
              <th>kind</th>
              <th>severity</th>
              <th>status</th>
              <th>resolved</th>
            </tr>
          </thead>
          <tbody>
            {items.map((i) => (
              <tr key={key(i)} className={fresh.has(key(i)) ? 'fresh' : ''} data-testid="incident-row" data-instance={i.instance} data-tenant={i.tenantId}>
                <td>
                  <a href={href('incidents', i.tenantId, i.incidentId)}>{time(i.openedAt)}</a>
                </td>
                <td>{i.tenantId}</td>
                <td>
                  {i.service} / {i.instance}
                </td>
                <td>{i.kind}</td>
                <td>{i.severity}</td>
                <td>
                  <Badge value={i.status} />
                </td>
                <td>{i.resolvedAt ? `${time(i.resolvedAt)} (${i.resolveReason ?? ''})` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
