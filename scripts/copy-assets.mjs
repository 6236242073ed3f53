// tsc compiles TypeScript only: files the server reads at run time (the Redis Function library,
// the demo page) are copied next to the compiled modules that load them, and the demo page's
// copy of the SDK (@herald/client, sdk/src) is bundled into one file beside it.
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ASSET = /\.(lua|html|css|svg|js)$/;

function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (ASSET.test(entry.name)) {
      const target = join(root, 'dist', relative(join(root, 'src'), path));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(path, target);
    }
  }
}
if (existsSync(join(root, 'src'))) walk(join(root, 'src'));

// esbuild is a dev dependency: a build without it (or without sdk/src, as in the container image's
// build context) serves the demo page without the SDK, and the page says so.
const sdkEntry = join(root, 'sdk', 'src', 'index.ts');
if (existsSync(sdkEntry)) {
  try {
    const { build } = await import('esbuild');
    await build({ entryPoints: [sdkEntry], bundle: true, minify: true, format: 'esm', target: 'es2020', outfile: join(root, 'dist', 'demo', 'herald-client.js'), logLevel: 'warning' });
  } catch (error) {
    console.warn(`copy-assets: the demo page's SDK bundle was not built: ${error.message}`);
  }
} else {
  console.warn('copy-assets: no sdk/src here; the demo page will be served without its SDK bundle');
}
