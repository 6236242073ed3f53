/**
 * External tools for the deployment checks (helm, promtool, nginx, docker):
 * whether each is here, and running one with a bounded time. A test that
 * needs an absent tool is skipped with a warning that says which and why.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Whether `command args` runs and exits 0 (within 15 s). */
export function toolWorks(command: string, args: readonly string[] = ['--version']): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 15_000 });
  return result.error === undefined && result.status === 0;
}

export const hasHelm = (): boolean => toolWorks('helm', ['version', '--short']);
export const hasPromtool = (): boolean => toolWorks('promtool', ['--version']);
export const hasNginx = (): boolean => toolWorks('nginx', ['-v']);
/** The docker CLI and an engine that answers. */
export const hasDockerEngine = (): boolean => toolWorks('docker', ['info']);
export const hasDockerCompose = (): boolean => toolWorks('docker', ['compose', 'version']);

/** Says, once per file, that checks were skipped and why. */
export function warnSkipped(what: string, reason: string): void {
  console.warn(`[deploy tests] SKIPPED ${what}: ${reason}`);
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, killing it after `timeoutMs`. */
export function run(command: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
