/**
 * The node under fuzz: dist/main.js as a child process, like test/helpers/process.ts, but keeping only a
 * bounded tail of its output (a long run logs hundreds of MB at info level) and exposing what the fuzzer
 * watches: liveness, RSS and open file descriptors from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { MAIN } from '../../helpers/process.js';
import { withTimeout } from '../../helpers/client.js';

const TAIL_BYTES = 256 * 1024;

export interface FuzzNode {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly metricsPort: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  /** Set once the process exited: its exit code or signal. */
  exit: number | string | undefined;
  readonly exited: Promise<number | string>;
  /** The last 256 KiB of stdout and stderr (where a crash's stack trace is). */
  tail(): { stdout: string; stderr: string };
  kill(): Promise<void>;
}

class Tail {
  private text = '';
  add(chunk: string): void {
    this.text += chunk;
    if (this.text.length > TAIL_BYTES * 2) this.text = this.text.slice(-TAIL_BYTES);
  }
  toString(): string {
    return this.text.slice(-TAIL_BYTES);
  }
}

export async function startFuzzNode(env: Record<string, string>, timeoutMs = 15_000): Promise<FuzzNode> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HERALD_HOST: '127.0.0.1', HERALD_PORT: '0', HERALD_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = new Tail();
  const err = new Tail();
  let listening: { port: number; metricsPort: number } | undefined;
  let pending = '';
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const ready = new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      out.add(text);
      if (listening !== undefined) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      const line = lines.find((l) => l.includes('"msg":"herald listening'));
      if (line === undefined) return;
      listening = JSON.parse(line) as { port: number; metricsPort: number };
      pending = '';
      resolve(listening);
    });
    void exited.then((code) => reject(new Error(`herald exited with ${code} before listening:\n${err.toString()}\n${out.toString()}`)));
  });
  child.stderr!.on('data', (chunk: Buffer) => err.add(chunk.toString()));
  const { port, metricsPort } = await withTimeout(ready, timeoutMs, 'herald did not start listening').catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  const node: FuzzNode = {
    child,
    pid: child.pid!,
    port,
    metricsPort,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    exit: undefined,
    exited,
    tail: () => ({ stdout: out.toString(), stderr: err.toString() }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'herald did not exit after SIGKILL');
    },
  };
  void exited.then((code) => (node.exit = code));
  return node;
}

export interface ProcessStats {
  rssBytes: number;
  fds: number;
}

/** VmRSS and the number of open file descriptors of a live process, from /proc (Linux). */
export function processStats(pid: number): ProcessStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (kb === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return { rssBytes: Number(kb[1]) * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** The first lines of an uncaught error in a crashed node's stderr, for the report. */
export function crashExcerpt(node: FuzzNode): string {
  const { stderr, stdout } = node.tail();
  const text = stderr.trim() === '' ? stdout : stderr;
  const at = Math.max(text.lastIndexOf('RangeError'), text.lastIndexOf('TypeError'), text.lastIndexOf('Error:'), text.lastIndexOf('"level":60'));
  return (at >= 0 ? text.slice(Math.max(0, at - 200)) : text.slice(-4000)).slice(0, 4000);
}
