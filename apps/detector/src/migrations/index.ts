import { DetectorInitial1763700000000 } from './1763700000000-detector-initial.js';
import { DetectorIncidentLifecycle1763800000000 } from './1763800000000-detector-incident-lifecycle.js';
import { DetectorPartitionCheckpoints1764000000000 } from './1764000000000-detector-partition-checkpoints.js';
import { DetectorRuntimeRole1765000000000 } from './1765000000000-detector-runtime-role.js';

export const detectorMigrations = [DetectorInitial1763700000000, DetectorIncidentLifecycle1763800000000, DetectorPartitionCheckpoints1764000000000, DetectorRuntimeRole1765000000000];
