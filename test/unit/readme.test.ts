import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VARIABLES } from '../../src/config.js';

const root = new URL('../../', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('readme - configuration table matches the code', () => {
  it('readme - every variable is documented with its default', () => {
    for (const variable of VARIABLES) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${variable.name}\` |`));
      expect(row, `README documents ${variable.name}`).toBeDefined();
      const documentedDefault = row!.split('|')[2]!.trim().replace(/`/g, '');
      expect(documentedDefault, `${variable.name} default`).toBe(variable.default);
    }
  });

  it('readme - every HERALD_ variable the code reads is in the documented list', () => {
    const documented = new Set(VARIABLES.map((v) => v.name));
    const used = new Set<string>();
    for (const file of sourceFiles(join(root, 'src'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/'(HERALD_[A-Z_]+)'/g)) used.add(match[1]!);
    }
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(documented.has(name), `${name} is in VARIABLES`).toBe(true);
  });
});
