/** Runs Herald as a separate process (dist/main.js, built by `npm test`'s pretest) and stops it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './client.js';

export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface HeraldProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  kill(): void;
}

/** Environment for a child: only what Herald needs, so the developer's HERALD_* variables never leak in. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HERALD_HOST: '127.0.0.1', HERALD_PORT: '0', HERALD_METRICS_PORT: '0', ...env };
}

/** Spawns Herald and waits for its "listening" log line; rejects if it exits or stays silent. */
export function spawnHerald(env: Record<string, string>, timeoutMs = 10_000): Promise<HeraldProcess> {
  const child = spawn(process.execPath, [MAIN], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const ready = new Promise<HeraldProcess>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.includes('"msg":"herald listening'));
      if (line === undefined) return;
      const { port, metricsPort } = JSON.parse(line) as { port: number; metricsPort: number };
      resolve({
        child,
        port,
        metricsPort,
        stdout: () => out,
        stderr: () => err,
        exited,
        kill: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        },
      });
    });
    void exited.then((code) => reject(new Error(`herald exited with ${code} before listening:\n${err}\n${out}`)));
  });
  return withTimeout(ready, timeoutMs, 'herald did not start listening').catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
}

/** Runs Herald expecting it to fail at startup; returns its exit code and output. */
export async function runToExit(env: Record<string, string>, timeoutMs = 10_000): Promise<{ code: number | string; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, [MAIN], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await withTimeout(new Promise<number | string>((resolve) => child.once('exit', (c, s) => resolve(c ?? s ?? -1))), timeoutMs, 'herald did not exit').catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { code, stderr: err, stdout: out };
}
