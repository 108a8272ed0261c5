import { AuditorInitial1763700000000 } from './1763700000000-auditor-initial.js';

export const auditorMigrations = [AuditorInitial1763700000000];
