import { useEffect, useState } from 'react';
import { auditor, get, tenantPath } from '../api';
import { Badge, ErrorLine, Section, seconds, time } from '../components';
import { href } from '../router';

interface Timeline {
  tenantId: string;
  incidentId: string;
  service: string | null;
  instance: string | null;
  kind: string | null;
  status: string;
  detectionMs: number | null;
  openedAt: string;
  resolvedAt: string | null;
  verifiedAt: string | null;
  openedToVerifiedMs: number | null;
  truncated: boolean;
  entries: { seq: number; eventType: string; occurredAt: string; actor: string; action: string; outcome: string; remediationId: string | null; sinceOpenedMs: number }[];
}

/** One incident from first signal to verification; refreshed while it is not yet verified. */
export function TimelinePage({ tenantId, incidentId }: { tenantId: string; incidentId: string }) {
  const [timeline, setTimeline] = useState<Timeline | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () =>
      get<Timeline>(auditor(`${tenantPath(tenantId)}/incidents/${encodeURIComponent(incidentId)}/timeline`)).then(
        (t) => {
          if (stop) return;
          setTimeline(t);
          setError(null);
          if (!t.verifiedAt || t.status !== 'resolved') timer = setTimeout(load, 3_000);
        },
        (e: Error) => {
          if (stop) return;
          setError(e.message);
          timer = setTimeout(load, 5_000);
        },
      );
    void load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [tenantId, incidentId]);

  return (
    <Section title={`Incident ${incidentId.slice(0, 8)}… of ${tenantId}`} actions={<a href={href('incidents')}>← all incidents</a>}>
      <ErrorLine error={error} />
      {timeline && (
        <>
          <p data-testid="timeline-summary">
            {timeline.service} / {timeline.instance} · {timeline.kind} · <Badge value={timeline.status} /> · detected in {seconds(timeline.detectionMs)} · opened {time(timeline.openedAt)} ·{' '}
            {timeline.verifiedAt ? (
              <span className="ok" data-testid="verified">
                verified {time(timeline.verifiedAt)} ({seconds(timeline.openedToVerifiedMs)} after opening)
              </span>
            ) : (
              <span className="muted">not verified yet</span>
            )}
          </p>
          <table data-testid="timeline">
            <thead>
              <tr>
                <th>+time</th>
                <th>event</th>
                <th>action</th>
                <th>outcome</th>
                <th>actor</th>
                <th>remediation</th>
              </tr>
            </thead>
            <tbody>
              {timeline.entries.map((e) => (
                <tr key={e.seq} data-testid="timeline-entry" data-event={e.eventType}>
                  <td>{seconds(e.sinceOpenedMs)}</td>
                  <td>{e.eventType}</td>
                  <td>{e.action}</td>
                  <td>
                    <Badge value={e.outcome} />
                  </td>
                  <td>{e.actor}</td>
                  <td className="muted">{e.remediationId ? `${e.remediationId.slice(0, 8)}…` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {timeline.truncated && <p className="muted">Only the first recorded events are shown.</p>}
        </>
      )}
    </Section>
  );
}
