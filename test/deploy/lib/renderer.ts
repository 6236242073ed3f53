/**
 * Renders the chart with `helm template`, or, where helm is absent, with
 * test/deploy/helmlite (Go's text/template with sprig and Helm's functions,
 * built from Debian's Go packages). Values are always passed as files, so both
 * see the same input. Only helmlite renders against existing cluster objects
 * (what `lookup` finds during `helm upgrade`); `helm template` has no cluster.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { need, type Need } from '../../helpers/skip.js';
import { CHART } from './chart.js';
import { ROOT, hasHelm, run, toolWorks } from './tools.js';

/** Where Debian's golang-*-dev packages put their sources (GOPATH layout). */
const DEBIAN_GOPATH = '/usr/share/gocode';

export const helmliteBuildable = (): boolean =>
  toolWorks('go', ['version']) && existsSync(join(DEBIAN_GOPATH, 'src/github.com/Masterminds/sprig')) && existsSync(join(DEBIAN_GOPATH, 'src/gopkg.in/yaml.v2'));

export const helmliteNeed = (): Need =>
  need(
    "Go with Debian's sprig and yaml.v2 (to build test/deploy/helmlite)",
    helmliteBuildable(),
    'apt-get install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev; .ci/run installs them',
    'required',
  );

/** A rendered Kubernetes object: free-form beyond its identity. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [key: string]: unknown };
  [key: string]: any;
};

export interface Rendered {
  readonly code: number | null;
  readonly stderr: string;
  readonly manifests: Manifest[];
}

export interface RenderOptions {
  /** Objects the cluster holds, answered by `lookup` (helmlite only). */
  readonly existing?: readonly Manifest[];
  /** Render as `helm upgrade` does: .Release.IsUpgrade (helmlite only). */
  readonly upgrade?: boolean;
}

export interface Renderer {
  readonly name: 'helm' | 'helmlite';
  /** Renders with these values files (later ones win) and, last, `values`. */
  template(valueFiles: readonly string[], values?: Record<string, unknown>, options?: RenderOptions): Promise<Rendered>;
  close(): void;
}

export const RELEASE = 'herald';
export const NAMESPACE = 'herald-test';

/** helm when installed, else helmlite when it can be built, else undefined. */
export async function createRenderer(): Promise<Renderer | undefined> {
  return hasHelm() ? createHelm() : createHelmlite();
}

function scratch(): { dir: string; jsonFile: (content: unknown) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-render-'));
  let counter = 0;
  return {
    dir,
    jsonFile: (content) => {
      const file = join(dir, `input-${counter++}.yaml`);
      writeFileSync(file, JSON.stringify(content)); // JSON is YAML
      return file;
    },
  };
}

const parseOutput = (code: number | null, stdout: string, stderr: string): Rendered => ({
  code,
  stderr,
  manifests: code === 0 ? parseAllDocuments(stdout).map((doc) => doc.toJS() as Manifest | null).filter((m): m is Manifest => m !== null) : [],
});

function createHelm(): Renderer {
  const { dir, jsonFile } = scratch();
  return {
    name: 'helm',
    template: async (files, values = {}, options = {}) => {
      if (options.existing !== undefined || options.upgrade === true) throw new Error('helm template cannot render against existing objects: use createHelmlite()');
      const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE, ...[...files, jsonFile(values)].flatMap((f) => ['-f', f])];
      const result = await run('helm', args, { timeoutMs: 60_000 });
      return parseOutput(result.code, result.stdout, result.stderr);
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** helmlite, built from test/deploy/helmlite, or undefined when Go or Debian's sprig is missing. */
export async function createHelmlite(): Promise<Renderer | undefined> {
  if (!helmliteBuildable()) return undefined;
  const { dir, jsonFile } = scratch();
  const close = (): void => rmSync(dir, { recursive: true, force: true });
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
    template: async (files, values = {}, options = {}) => {
      const flags = [
        ...(options.existing !== undefined ? ['-existing', jsonFile({ apiVersion: 'v1', kind: 'List', items: options.existing })] : []),
        ...(options.upgrade === true ? ['-upgrade'] : []),
      ];
      const result = await run(binary, [...flags, CHART, RELEASE, NAMESPACE, ...files, jsonFile(values)], { timeoutMs: 60_000 });
      return parseOutput(result.code, result.stdout, result.stderr);
    },
    close,
  };
}
