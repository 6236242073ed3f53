/**
 * Renders the chart with `helm template`, or, where helm is absent, with
 * test/deploy/helmlite (Go's text/template with sprig and Helm's functions,
 * built from Debian's Go packages). Values are always passed as files, so both
 * see the same input.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CHART } from './chart.js';
import { ROOT, hasHelm, run, toolWorks } from './tools.js';

/** Where Debian's golang-*-dev packages put their sources (GOPATH layout). */
const DEBIAN_GOPATH = '/usr/share/gocode';

export const helmliteBuildable = (): boolean =>
  toolWorks('go', ['version']) && existsSync(join(DEBIAN_GOPATH, 'src/github.com/Masterminds/sprig')) && existsSync(join(DEBIAN_GOPATH, 'src/gopkg.in/yaml.v2'));

/** A rendered Kubernetes object: free-form beyond its identity. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: any;
};

export interface Rendered {
  readonly code: number | null;
  readonly stderr: string;
  readonly manifests: Manifest[];
}

export interface Renderer {
  readonly name: 'helm' | 'helmlite';
  /** Renders with these values files (later ones win) and, last, `values`. */
  template(valueFiles: readonly string[], values?: Record<string, unknown>): Promise<Rendered>;
  close(): void;
}

export const RELEASE = 'herald';
export const NAMESPACE = 'herald-test';

/** helm when installed, else helmlite when it can be built, else undefined. */
export async function createRenderer(): Promise<Renderer | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-render-'));
  let counter = 0;
  const valuesFile = (values: Record<string, unknown>): string => {
    const file = join(dir, `values-${counter++}.yaml`);
    writeFileSync(file, JSON.stringify(values)); // JSON is YAML
    return file;
  };
  const parseOutput = (code: number | null, stdout: string, stderr: string): Rendered => ({
    code,
    stderr,
    manifests: code === 0 ? parseAllDocuments(stdout).map((doc) => doc.toJS() as Manifest | null).filter((m): m is Manifest => m !== null) : [],
  });
  const close = (): void => rmSync(dir, { recursive: true, force: true });

  if (hasHelm()) {
    return {
      name: 'helm',
      template: async (files, values = {}) => {
        const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE, ...[...files, valuesFile(values)].flatMap((f) => ['-f', f])];
        const result = await run('helm', args, { timeoutMs: 60_000 });
        return parseOutput(result.code, result.stdout, result.stderr);
      },
      close,
    };
  }
  if (!helmliteBuildable()) {
    close();
    return undefined;
  }
  mkdirSync(join(dir, 'gopath/src'), { recursive: true });
  symlinkSync(join(ROOT, 'test/deploy/helmlite'), join(dir, 'gopath/src/helmlite'));
  const binary = join(dir, 'helmlite');
  const built = await run('go', ['build', '-o', binary, 'helmlite'], {
    cwd: dir,
    timeoutMs: 180_000,
    env: { ...process.env, GOPATH: `${join(dir, 'gopath')}:${DEBIAN_GOPATH}`, GO111MODULE: 'off', GOFLAGS: '' },
  });
  if (built.code !== 0) {
    close();
    throw new Error(`building test/deploy/helmlite failed:\n${built.stderr}`);
  }
  return {
    name: 'helmlite',
    template: async (files, values = {}) => {
      const result = await run(binary, [CHART, RELEASE, NAMESPACE, ...files, valuesFile(values)], { timeoutMs: 60_000 });
      return parseOutput(result.code, result.stdout, result.stderr);
    },
    close,
  };
}
