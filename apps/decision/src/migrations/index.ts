import { DecisionInitial1763700100000 } from './1763700100000-decision-initial.js';

export const decisionMigrations = [DecisionInitial1763700100000];
