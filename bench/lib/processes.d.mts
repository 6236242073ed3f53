/** Types of processes.mjs for TypeScript callers. */
import type { ChildProcess } from 'node:child_process';

export type Role = 'server' | 'redis' | 'loadgen' | 'publisher';

export interface Tracked {
  role: Role;
  name: string;
  child: ChildProcess;
  tree: boolean;
  exited: Promise<number | string>;
  output(): string;
  cleanup?: () => void;
}

export declare class ProcessSet {
  spawn(role: Role, name: string, command: string, args: string[], options?: Record<string, unknown>): Tracked;
  fork(role: Role, name: string, modulePath: string, args?: string[], options?: Record<string, unknown>): Tracked;
  ownDir(t: Tracked, dir: string): void;
  started(): number[];
  live(): Tracked[];
  sample(): Record<string, { role: Role; pid: number; cpuSeconds: number; rssBytes: number }>;
  stop(t: Tracked, signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  stopAll(): Promise<void>;
  scope(tag: string): Pick<ProcessSet, 'spawn' | 'fork' | 'ownDir' | 'stop' | 'live' | 'started' | 'sample'>;
  killAllSync(): void;
}
