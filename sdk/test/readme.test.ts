/** sdk/README.md says what the code does: option defaults, the runnable example, the public surface. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sdk from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('sdk readme - in step with the code', () => {
  it('sdk readme - the options table shows every default of DEFAULTS', () => {
    for (const [name, value] of Object.entries(sdk.DEFAULTS)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, `README documents ${name}`).toBeDefined();
      expect(row!.split('|')[2]!.trim(), name).toBe(`\`${value}\``);
    }
  });

  it('sdk readme - the complete example is examples/node.mjs, line for line', () => {
    const example = readFileSync(new URL('../examples/node.mjs', import.meta.url), 'utf8');
    const block = /## A complete example[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const code = example.split('\n').filter((line) => !line.startsWith('//') || line.startsWith('// Development')).join('\n');
    expect(block.trim()).toBe(code.trim());
  });

  it('sdk readme - documents the backoff reset and every client error code', () => {
    expect(readme).toContain(`stayed up for ${sdk.STABLE_MS / 1000} seconds`);
    for (const code of ['not_connected', 'connection_lost', 'timeout', 'token_unavailable', 'already_subscribed']) expect(readme).toContain(`| \`${code}\` | client |`);
  });
});
