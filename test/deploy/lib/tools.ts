/**
 * External tools for the deployment checks (helm, promtool, nginx, docker):
 * whether each is here, as a Need for test/helpers/skip.ts (a test that needs
 * an absent tool is skipped with the reason, and under CI=true a tool CI must
 * have fails the run instead), and running one with a bounded time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { need, type Need } from '../../helpers/skip.js';

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

export const promtoolNeed = (): Need => need('promtool', hasPromtool(), 'Debian: apt-get install prometheus; .ci/run installs it', 'required');
export const nginxNeed = (): Need => need('nginx', hasNginx(), 'Debian: apt-get install nginx; .ci/run installs it', 'required');
export const helmNeed = (): Need =>
  need('helm', hasHelm(), 'install Helm 3, https://helm.sh/docs/intro/install/; the CI machine has none, and test/deploy/helmlite renders the chart there', 'optional');
export const dockerEngineNeed = (): Need => need('a Docker engine', hasDockerEngine(), '`docker info` fails; the CI machine has no Docker engine', 'optional');
export const dockerComposeNeed = (): Need => need('the docker compose plugin', hasDockerCompose(), '`docker compose version` fails; the CI machine has no Docker', 'optional');

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
    // A child that exits before reading its input would make this write fail with EPIPE: that is not a test failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
