import { ExecutorInitial1763700200000 } from './1763700200000-executor-initial.js';

export const executorMigrations = [ExecutorInitial1763700200000];
