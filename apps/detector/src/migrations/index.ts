import { DetectorInitial1763700000000 } from './1763700000000-detector-initial.js';

export const detectorMigrations = [DetectorInitial1763700000000];
