import { AuditorInitial1763700000000 } from './1763700000000-auditor-initial.js';
import { AuditorAppendFunction1765000000000 } from './1765000000000-auditor-append-function.js';
import { AuditorPeopleApiKeys1766100000000 } from './1766100000000-auditor-people-api-keys.js';
import { AuditorReadIsolation1766200000000 } from './1766200000000-auditor-read-isolation.js';
import { AuditorSignedPoints1766300000000 } from './1766300000000-auditor-signed-points.js';
import { AuditorPartitionedLog1767000000000 } from './1767000000000-auditor-partitioned-log.js';
import { AuditorSiemCursors1767100000000 } from './1767100000000-auditor-siem-cursors.js';
import { AuditorAppendBatch1767200000000 } from './1767200000000-auditor-append-batch.js';
import { AuditorAppendCanonical1767400000000 } from './1767400000000-auditor-append-canonical.js';

export const auditorMigrations = [AuditorInitial1763700000000, AuditorAppendFunction1765000000000, AuditorPeopleApiKeys1766100000000, AuditorReadIsolation1766200000000, AuditorSignedPoints1766300000000, AuditorPartitionedLog1767000000000, AuditorSiemCursors1767100000000, AuditorAppendBatch1767200000000, AuditorAppendCanonical1767400000000];
