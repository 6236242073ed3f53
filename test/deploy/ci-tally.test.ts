/**
 * The end of .ci/run: .ci/tally.mjs lists every skipped test with its reason
 * and ends with the line CI parses, and a skip CI must not have fails the run
 * under CI=true. Checked on made-up reports, and on a real vitest run of
 * test/deploy/fixtures/skips (one test runs, one needs a tool CI must have,
 * one a tool CI cannot have) with and without CI=true.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, run } from './lib/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-tally-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function tally(report: string, ci: boolean): Promise<{ code: number | null; lines: string[] }> {
  const env = { ...process.env, CI: ci ? 'true' : 'false' };
  const result = await run('node', ['.ci/tally.mjs', report], { env, timeoutMs: 10_000 });
  return { code: result.code, lines: result.stdout.trimEnd().split('\n') };
}

function reportFile(name: string, testResults: unknown[]): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ testResults }));
  return file;
}

describe('ci - the tally', () => {
  const file = join(ROOT, 'test/a.test.ts');

  it('ci - a run without skips ends with "N passed, M failed"', async () => {
    const report = reportFile('clean.json', [{ name: file, status: 'passed', assertionResults: [{ fullName: 'a - one', status: 'passed' }, { fullName: 'a - two', status: 'passed' }] }]);
    expect(await tally(report, true)).toEqual({ code: 0, lines: ['2 passed, 0 failed'] });
  });

  it('ci - each skipped test is listed with its reason before the last line', async () => {
    const report = reportFile('skips.json', [
      {
        name: file,
        status: 'passed',
        assertionResults: [
          { fullName: 'a - runs', status: 'passed' },
          { fullName: 'a - needs helm', status: 'skipped', meta: { skipReason: 'helm is missing (none here)' } },
        ],
      },
    ]);
    expect(await tally(report, true)).toEqual({ code: 0, lines: ['== skipped: 1', 'skipped test/a.test.ts > a - needs helm: helm is missing (none here)', '1 passed, 0 failed, 1 skipped'] });
  });

  it('ci - a skip without a reason is shown as such, and fails the run under CI=true only', async () => {
    const report = reportFile('unexplained.json', [{ name: file, status: 'passed', assertionResults: [{ fullName: 'a - runs', status: 'passed' }, { fullName: 'a - quiet', status: 'skipped', meta: {} }] }]);
    const local = await tally(report, false);
    expect(local.code).toBe(0);
    expect(local.lines[1]).toMatch(/^skipped test\/a\.test\.ts > a - quiet: NO REASON GIVEN/);
    expect(local.lines.at(-1)).toBe('1 passed, 0 failed, 1 skipped');
    const ci = await tally(report, true);
    expect(ci.code).toBe(1);
    expect(ci.lines.at(-1)).toBe('1 passed, 1 failed');
  });

  it('ci - a file that failed to load counts as a failure', async () => {
    const report = reportFile('broken.json', [{ name: file, status: 'failed', assertionResults: [] }]);
    const result = await tally(report, false);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual(['failed to load: test/a.test.ts', '0 passed, 1 failed']);
  });
});

describe('ci - skips in a real vitest run (test/deploy/fixtures/skips)', () => {
  async function runFixture(ci: boolean): Promise<{ code: number | null; lines: string[] }> {
    const report = join(dir, `fixture-${ci}.json`);
    const env = { ...process.env, CI: ci ? 'true' : 'false', HERALD_TEST_REPORT: report };
    await run(join(ROOT, 'node_modules/.bin/vitest'), ['run', '--config', 'test/deploy/fixtures/skips/vitest.config.ts'], { env, timeoutMs: 60_000 });
    return tally(report, ci);
  }

  it('ci - without CI=true both needs are skips, each with its reason', async () => {
    const { code, lines } = await runFixture(false);
    expect(code).toBe(0);
    expect(lines).toContain('skipped test/deploy/fixtures/skips/skips.fixture.ts > fixture - skips fixture - needs the required tool: a required tool is missing (install it)');
    expect(lines).toContain('skipped test/deploy/fixtures/skips/skips.fixture.ts > fixture - skips fixture - needs the engine: an engine CI has not is missing (there is none here)');
    expect(lines.at(-1)).toBe('1 passed, 0 failed, 2 skipped');
  }, 60_000);

  it('ci - under CI=true the missing required tool fails the run; the one CI cannot have stays a skip', async () => {
    const { code, lines } = await runFixture(true);
    expect(code).toBe(1);
    expect(lines).toContain('skipped test/deploy/fixtures/skips/skips.fixture.ts > fixture - skips fixture - needs the engine: an engine CI has not is missing (there is none here)');
    expect(lines.at(-1)).toBe('1 passed, 1 failed, 2 skipped');
  }, 60_000);
});
