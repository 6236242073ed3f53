/** The package as it ships: size budget, no runtime dependencies, no server code, ESM with declarations. */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const sdk = new URL('../', import.meta.url).pathname;
const BUDGET = 6 * 1024;

describe('package - @herald/client as it ships', () => {
  it('package - the bundle is at most 6 KB minified and gzipped', async () => {
    const result = await build({ entryPoints: [`${sdk}src/index.ts`], bundle: true, minify: true, format: 'esm', write: false, target: 'es2020', logLevel: 'silent' });
    const minified = result.outputFiles[0]!.contents;
    const gzipped = gzipSync(minified, { level: 9 }).byteLength;
    console.log(`[sdk size] ${minified.byteLength} bytes minified, ${gzipped} bytes minified+gzipped (budget ${BUDGET})`);
    expect(gzipped).toBeLessThanOrEqual(BUDGET);
    expect(gzipped).toBeGreaterThan(1000);
  });

  it('package - no runtime dependencies, ESM entry with declarations', () => {
    const pkg = JSON.parse(readFileSync(`${sdk}package.json`, 'utf8')) as Record<string, unknown>;
    expect(pkg.name).toBe('@herald/client');
    expect(pkg.type).toBe('module');
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) expect(pkg[field], field).toBeUndefined();
    expect(pkg.exports).toEqual({ '.': { types: './dist/index.d.ts', import: './dist/index.js' } });
    // Built by root npm test's pretest (npm run build --workspace sdk).
    expect(existsSync(`${sdk}dist/index.js`) && existsSync(`${sdk}dist/index.d.ts`)).toBe(true);
  });

  it('package - the sources import only each other: nothing from the server, Node or any package', () => {
    const files = readdirSync(`${sdk}src`).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const file of files) {
      const source = readFileSync(`${sdk}src/${file}`, 'utf8');
      for (const match of source.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) expect(match[1], `${file} imports ${match[1]}`).toMatch(/^\.\/[\w-]+\.js$/);
    }
  });

  it('package - the built declarations need neither DOM nor Node types', () => {
    for (const file of readdirSync(`${sdk}dist`).filter((f) => f.endsWith('.d.ts'))) {
      const text = readFileSync(`${sdk}dist/${file}`, 'utf8');
      expect(text, file).not.toMatch(/reference types|NodeJS\.|\bMessageEvent\b|\bCloseEvent\b|Timeout\b/);
    }
  });
});
