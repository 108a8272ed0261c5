import type { DataSource } from 'typeorm';
import { readOutboxBacklog, type OutboxBacklog } from '@autoheal/persistence';
import { createGauge, createLogger } from '@autoheal/telemetry';

const log = createLogger('outbox-backlog');

/** The outboxes this process publishes, by schema (tests run several services in one process). */
const watched = new Map<string, DataSource>();

/** Reads every watched outbox; one cheap query each (the relay's partial index), per gauge and scrape. */
async function backlogs(): Promise<Map<string, OutboxBacklog>> {
  const out = new Map<string, OutboxBacklog>();
  for (const [schema, db] of watched) {
    try {
      out.set(schema, await readOutboxBacklog(db, schema));
    } catch (error) {
      // The database is unreachable: the series is left out rather than reported stale, so the
      // dashboard shows a gap (and the service's /health says why) instead of an old figure.
      log.warn({ err: error, schema }, 'could not read the outbox backlog for /metrics');
    }
  }
  return out;
}

const pending = createGauge<'schema'>({
  name: 'autoheal_outbox_pending_events',
  help: 'Events committed to the service outbox and not yet published to JetStream (read at scrape time)',
  labelNames: ['schema'],
  async collect() {
    const read = await backlogs();
    this.reset();
    for (const [schema, b] of read) this.set({ schema }, b.pending);
  },
});

const oldest = createGauge<'schema'>({
  name: 'autoheal_outbox_oldest_pending_age_seconds',
  help: 'How long the oldest unpublished outbox event has waited; 0 when none waits (read at scrape time)',
  labelNames: ['schema'],
  async collect() {
    const read = await backlogs();
    this.reset();
    for (const [schema, b] of read) this.set({ schema }, b.oldestPendingSeconds);
  },
});

/** Reports `<schema>.outbox`'s backlog at /metrics until the returned function is called. */
export function watchOutboxBacklog(db: DataSource, schema: string): () => void {
  watched.set(schema, db);
  return () => {
    if (watched.get(schema) !== db) return;
    watched.delete(schema);
    pending.remove({ schema });
    oldest.remove({ schema });
  };
}
