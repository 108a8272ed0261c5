// Types for processes.js, for the test that stops `npm start` (test/dev-stop.e2e-spec.ts).
export declare const RUN_ID_VARIABLE: 'AUTOHEAL_RUN_ID';
/** Live processes whose environment carries AUTOHEAL_RUN_ID=<runId> (Linux /proc). */
export declare function processesOfRun(runId: string, exclude?: number[]): number[];
export declare function alive(pid: number): boolean;
export declare function groupMembers(pgid: number): number[];
export declare function sweepRun(runId: string, options?: { exclude?: number[]; graceMs?: number; term?: NodeJS.Signals }): Promise<number[]>;
export declare class ProcessRegistry {
  constructor(options?: { runId?: string; detached?: boolean });
  readonly runId: string;
  env(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  spawn(command: string, args: readonly string[], options?: import('node:child_process').SpawnOptions): import('node:child_process').ChildProcess;
  stop(child: import('node:child_process').ChildProcess, options?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<void>;
  sweep(options?: { graceMs?: number; exclude?: number[] }): Promise<number[]>;
}
