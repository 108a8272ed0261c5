import { ExecutorInitial1763700200000 } from './1763700200000-executor-initial.js';
import { ExecutorRuntimeRole1765000000000 } from './1765000000000-executor-runtime-role.js';

export const executorMigrations = [ExecutorInitial1763700200000, ExecutorRuntimeRole1765000000000];
