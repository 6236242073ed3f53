/**
 * The Dockerfile and .dockerignore: read and checked everywhere; built and run
 * for real (read-only, non-root, drained by `docker stop`) where a Docker
 * engine answers.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VARIABLES } from '../../src/config.js';
import { TestClient, scrape, withTimeout } from '../helpers/client.js';
import { API_KEY, SECRET, hs256 } from '../helpers/tokens.js';
import { unless } from '../helpers/skip.js';
import { ROOT, dockerEngineNeed, run } from './lib/tools.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions (continuation lines joined, comments dropped), grouped by stage, with global ARG defaults substituted in FROM. */
function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const globals = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\w+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, image = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ image: image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a?: string, b?: string) => globals.get((a ?? b)!) ?? ''), name, instructions: [] });
    } else if (stages.length === 0) {
      if (upper === 'ARG') {
        const [name, value = ''] = args.split('=');
        globals.set(name!, value);
      }
    } else {
      stages.at(-1)!.instructions.push({ keyword: upper, args });
    }
  }
  return stages;
}

/** Whether the build context keeps `path`, by .dockerignore's rules: the last matching pattern wins, and a pattern matches a path or any of its parents. */
function inContext(patterns: readonly string[], path: string): boolean {
  const toRegExp = (glob: string): RegExp =>
    new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]').replace(/\u0000/g, '.*')}$`);
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/|\/$/g, '');
    if (candidates.some((candidate) => toRegExp(pattern).test(candidate))) excluded = !negated;
  }
  return !excluded;
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;
const ignorePatterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; main: string };
const stage = (name: string): Stage => stages.find((s) => s.name === name)!;
const runs = (s: Stage): string[] => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const defaultOf = (name: string): string => VARIABLES.find((v) => v.name === name)!.default;

describe('docker - the Dockerfile', () => {
  it('docker - every stage is Node.js 20 on Debian bookworm (glibc), the major package.json requires, none on Alpine', () => {
    const major = /(\d+)/.exec(pkg.engines.node)![1];
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      expect(s.image, s.name).toMatch(new RegExp(`^node:${major}(\\.\\d+)*-bookworm(-slim)?$`));
      expect(s.image).not.toContain('alpine');
    }
  });

  it('docker - the build stage compiles with the dev dependencies; the runtime stage gets production dependencies only', () => {
    const build = stage('build');
    expect(runs(build).some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(runs(build)).toContain('npm run build');
    const modules = runtime.instructions.find((i) => i.keyword === 'COPY' && /\/node_modules\b/.test(i.args));
    const from = /--from=(\S+)/.exec(modules!.args)![1]!;
    expect(runs(stage(from)).some((r) => /^npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runtime.instructions.some((i) => i.keyword === 'COPY' && i.args.startsWith('--from=build') && i.args.includes('/dist'))).toBe(true);
    // Nothing is installed or built in the final image.
    expect(runs(runtime)).toEqual([]);
  });

  it('docker - the image, npm start, npm run demo and the benchmark run Node with the same V8 flags', () => {
    // The flags decide memory per idle connection (README, "Runtime and uWebSockets.js"): the benchmark must measure what is deployed.
    const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
    const image = /NODE_OPTIONS="([^"]*)"/.exec(env)?.[1]?.split(' ');
    expect(image).toEqual(['--max-semi-space-size=2']);
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['start', 'demo']) expect(scripts[name], name).toContain(`node ${image!.join(' ')} ${pkg.main}`);
    const bench = readFileSync(join(ROOT, 'bench/targets/herald.mjs'), 'utf8');
    const flags = /export const NODE_FLAGS = (\[[^\]]*\]);/.exec(bench)?.[1];
    expect(JSON.parse(flags!.replace(/'/g, '"'))).toEqual(image);
  });

  it('docker - the image runs node dist/main.js directly as PID 1, as a numeric non-root user, in production mode', () => {
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    expect(JSON.parse(entrypoint!.args)).toEqual(['node', pkg.main]);
    expect(runtime.instructions.some((i) => i.keyword === 'CMD')).toBe(false);
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)!.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    expect(runtime.instructions.some((i) => i.keyword === 'ENV' && /\bNODE_ENV=production\b/.test(i.args))).toBe(true);
    const stopSignal = runtime.instructions.find((i) => i.keyword === 'STOPSIGNAL');
    expect(stopSignal?.args ?? 'SIGTERM').toBe('SIGTERM');
  });

  it('docker - the client and metrics ports are exposed', () => {
    const exposed = runtime.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
    expect(exposed.sort()).toEqual([defaultOf('HERALD_PORT'), defaultOf('HERALD_METRICS_PORT')].sort());
  });

  it('docker - no secret is set in the image', () => {
    const secrets = VARIABLES.filter((v) => v.secret).map((v) => v.name);
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const s of stages) {
      for (const i of s.instructions.filter((x) => ['ENV', 'ARG', 'LABEL'].includes(x.keyword))) {
        for (const name of secrets) expect(i.args, `${s.name}: ${i.keyword}`).not.toContain(name);
      }
    }
  });

  it('docker - the build context has what the Dockerfile copies, and no secrets, dependencies or build output', () => {
    const sources = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1)));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src']));
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(inContext(ignorePatterns, source), `${source} is in the build context`).toBe(true);
    }
    expect(inContext(ignorePatterns, 'src/main.ts')).toBe(true);
    for (const path of ['.env', '.env.production', 'deploy/.env', 'node_modules/ioredis/package.json', 'dist/main.js', '.git/config', 'test/helpers/tokens.ts', 'helm/herald/values.yaml', 'id_rsa']) {
      expect(inContext(ignorePatterns, path), `${path} is left out`).toBe(false);
    }
  });

  it('docker - the comment says why the base image is Debian and not Alpine', () => {
    expect(dockerfile).toMatch(/glibc/);
    expect(dockerfile).toMatch(/Alpine \(musl\)/);
  });
});

describe('docker - the image, built and run', unless(dockerEngineNeed()), () => {
  const tag = `herald-test:${randomBytes(4).toString('hex')}`;
  let container = '';

  afterAll(async () => {
    if (container !== '') await run('docker', ['rm', '-f', container], { timeoutMs: 30_000 });
    await run('docker', ['rmi', '-f', tag], { timeoutMs: 60_000 });
  }, 90_000);

  it('docker - the image builds, runs read-only as uid 1000 with node as PID 1, serves clients, and drains on docker stop with exit 0', async () => {
    const built = await run('docker', ['build', '-t', tag, '.'], { timeoutMs: 600_000 });
    expect(built.code, built.stderr.slice(-3000)).toBe(0);
    const inspectUser = await run('docker', ['image', 'inspect', '--format', '{{.Config.User}}', tag]);
    expect(inspectUser.stdout.trim()).toBe('1000:1000');

    const started = await run('docker', [
      'run', '-d', '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true',
      '-p', '127.0.0.1::8080', '-p', '127.0.0.1::9091',
      '-e', `HERALD_JWT_SECRET=${SECRET}`, '-e', `HERALD_API_KEYS=${API_KEY}`, '-e', 'HERALD_DRAIN_SECONDS=2', '-e', 'HERALD_NODE_ID=container',
      tag,
    ]);
    expect(started.code, started.stderr).toBe(0);
    container = started.stdout.trim();
    const hostPort = async (port: number): Promise<number> => Number((await run('docker', ['port', container, `${port}/tcp`])).stdout.trim().split('\n')[0]!.split(':').pop());
    const http = await hostPort(8080);
    const metrics = await hostPort(9091);

    await withTimeout(
      (async () => {
        for (;;) {
          const ready = await fetch(`http://127.0.0.1:${http}/readyz`).then((r) => r.status, () => 0);
          if (ready === 200) return;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })(),
      30_000,
      'the container did not become ready',
    );
    const pid1 = await run('docker', ['exec', container, 'cat', '/proc/1/cmdline']);
    expect(pid1.stdout.split('\0').filter(Boolean)).toEqual(['node', 'dist/main.js']);
    const uid = await run('docker', ['exec', container, 'id', '-u']);
    expect(uid.stdout.trim()).toBe('1000');

    const client = await TestClient.open(`ws://127.0.0.1:${http}/ws`, hs256());
    expect(client.frames[0]).toMatchObject({ type: 'welcome', node: 'container' });
    expect((await scrape(`http://127.0.0.1:${metrics}/metrics`)).get('herald_connections')).toBe(1);

    const stopped = await run('docker', ['stop', '-t', '30', container], { timeoutMs: 40_000 });
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(await client.waitClosed(5000)).toEqual({ code: 1001, reason: 'draining' });
    const exit = await run('docker', ['inspect', '--format', '{{.State.ExitCode}}', container]);
    expect(exit.stdout.trim()).toBe('0');
    const logs = await run('docker', ['logs', container]);
    expect(logs.stdout).toContain('shutdown complete');
    expect(logs.stdout + logs.stderr).not.toContain(SECRET);
  }, 700_000);
});
