/**
 * Runs deploy/nginx/nginx.conf outside Docker: the configuration is adapted
 * only in what differs between a container and this machine (upstream
 * addresses and ports, the listen address and port, file paths, the worker
 * user), and nginx runs in the foreground as a child of the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTimeout } from '../../helpers/client.js';

export interface Adaptation {
  /** Upstream server address in the real configuration (e.g. herald-1:8080) → local port. */
  readonly upstreams: ReadonlyMap<string, number>;
  readonly listenPort: number;
  /** Directory for logs, temp files and the pid file. */
  readonly prefix: string;
  /** Whether nginx runs as root (the real configuration names the image's "nginx" user). */
  readonly asRoot: boolean;
}

/** The configuration for this machine. Throws when the real one no longer has the shape this expects. */
export function adaptNginxConfig(conf: string, a: Adaptation): string {
  let upstreamsReplaced = 0;
  let out = conf.replace(/^(\s*server\s+)([\w.-]+:\d+)([^;{]*;)/gm, (_line, head: string, address: string, rest: string) => {
    const port = a.upstreams.get(address);
    if (port === undefined) throw new Error(`nginx.conf has upstream server ${address}, which the test does not run`);
    upstreamsReplaced++;
    return `${head}127.0.0.1:${port}${rest}`;
  });
  if (upstreamsReplaced !== a.upstreams.size) throw new Error(`nginx.conf has ${upstreamsReplaced} upstream servers, expected ${a.upstreams.size}`);

  const listens = out.match(/^\s*listen\s+80\s*;/gm) ?? [];
  if (listens.length !== 1) throw new Error(`nginx.conf should listen on port 80 exactly once, found ${listens.length}`);
  out = out.replace(/^(\s*listen\s+)80(\s*;)/m, `$1127.0.0.1:${a.listenPort}$2`);

  if (!/^user\s+nginx\s*;/m.test(out)) throw new Error('nginx.conf no longer sets "user nginx;"');
  // As root, workers need a user that exists here; otherwise nginx ignores `user` and runs as us.
  out = out.replace(/^user\s+nginx\s*;/m, a.asRoot ? 'user root;' : '# user: not root here, workers run as the current user');

  out = out.replaceAll('/var/log/nginx/', `${a.prefix}/logs/`);
  // Temp files inside the prefix instead of the distribution's compiled-in paths.
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${a.prefix}/tmp/${kind};`).join('\n');
  out = out.replace(/^http\s*\{/m, `http {\n${temp}`);
  return out;
}

export interface NginxProcess {
  readonly port: number;
  readonly child: ChildProcess;
  readonly prefix: string;
  stderr(): string;
  accessLog(): string;
  stop(): Promise<void>;
}

/** Processes whose parent is `pid` (nginx workers), from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

/** Starts nginx in the foreground with the adapted configuration and waits until it answers. */
export async function startNginx(conf: string, listenPort: number, upstreams: ReadonlyMap<string, number>, timeoutMs = 10_000): Promise<NginxProcess> {
  const prefix = mkdtempSync(join(tmpdir(), 'herald-nginx-'));
  // Workers (not root) must reach the temp directories inside the prefix.
  chmodSync(prefix, 0o755);
  mkdirSync(join(prefix, 'logs'));
  mkdirSync(join(prefix, 'tmp'));
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, adaptNginxConfig(conf, { upstreams, listenPort, prefix, asRoot: process.getuid?.() === 0 }));

  const child = spawn('nginx', ['-p', `${prefix}/`, '-c', confPath, '-e', 'stderr', '-g', `daemon off; pid ${prefix}/nginx.pid;`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const workers = child.pid === undefined ? [] : childrenOf(child.pid);
      child.kill('SIGTERM'); // fast shutdown: open WebSockets do not hold it up
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        for (const pid of workers) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await exited;
      }
    }
    rmSync(prefix, { recursive: true, force: true });
  };

  const ready = (async () => {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited at startup:\n${err}`);
      try {
        const response = await fetch(`http://127.0.0.1:${listenPort}/nginx-health`, { signal: AbortSignal.timeout(1000) });
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  try {
    await withTimeout(ready, timeoutMs, `nginx did not answer on port ${listenPort}`);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${err}`);
  }
  return {
    port: listenPort,
    child,
    prefix,
    stderr: () => err,
    accessLog: () => {
      try {
        return readFileSync(join(prefix, 'logs/access.log'), 'utf8');
      } catch {
        return '';
      }
    },
    stop,
  };
}
