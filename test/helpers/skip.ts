/**
 * Skips that say why, and that CI refuses where they should not happen.
 *
 * A test or suite that needs something the machine may lack (a tool, a
 * browser, a Docker engine) takes its options from `unless(...)`: when a need
 * is missing it is skipped with the reason in its metadata (`skipReason`),
 * which the JSON report keeps and .ci/run prints beside every skipped test.
 * A need CI must always have (`ci: 'required'`: redis-server, Chromium,
 * promtool, nginx, Go with sprig) that is missing under CI=true becomes a
 * failing test naming it, so that a skipped check cannot pass for a run one.
 * Needs that cannot exist on the CI machine (a Docker engine, helm) stay
 * skips, with their reason.
 */
import { it, type TestOptions } from 'vitest';
import { hasLocalRedis } from './redis.js';

declare module '@vitest/runner' {
  interface TaskMeta {
    /** Why the test was skipped; set by unless(). */
    skipReason?: string;
  }
}

export interface Need {
  /** What the tests need, e.g. "nginx on PATH". */
  readonly what: string;
  readonly present: boolean;
  /** How to get it, or why it cannot be here. */
  readonly hint: string;
  /** required: a missing one fails the run under CI=true; optional: a skip everywhere. */
  readonly ci: 'required' | 'optional';
}

export const need = (what: string, present: boolean, hint: string, ci: Need['ci']): Need => ({ what, present, hint, ci });

/** Whether this is a CI run (.ci/run is run with CI=true). */
export const inCi = (): boolean => process.env.CI === 'true';

/** CI failures registered and skip reasons printed in this test file. */
const registered = new Set<string>();
const warned = new Set<string>();

/**
 * Options for `describe` or `it`: skipped, with the reason recorded, unless
 * every need is present. Call it where the suite or test is declared: under
 * CI=true, each missing required need registers a failing test in the
 * enclosing suite (once per file).
 */
export function unless(...needs: readonly Need[]): TestOptions {
  const missing = needs.filter((n) => !n.present);
  if (missing.length === 0) return {};
  const reason = missing.map((n) => `${n.what} is missing (${n.hint})`).join('; ');
  for (const n of missing) {
    if (!inCi() || n.ci !== 'required' || registered.has(n.what)) continue;
    registered.add(n.what);
    it(`ci - ${n.what} is here, as CI=true requires`, () => {
      throw new Error(`CI=true, but ${n.what} is missing: ${n.hint}. Its tests would be skipped and the run would look complete without them.`);
    });
  }
  if (!warned.has(reason)) console.warn(`[tests] SKIPPED: ${reason}`);
  warned.add(reason);
  return { skip: true, meta: { skipReason: reason } };
}

/** Options that skip, with `reason`, when `condition` holds: for skips that no tool decides (e.g. helm does not print NOTES.txt). */
export function skipWhen(condition: boolean, reason: string): TestOptions {
  return condition ? { skip: true, meta: { skipReason: reason } } : {};
}

/** redis-server on PATH, for tests that start their own (Sentinel, private nodes they kill): CI always has it. */
export const redisServerNeed = (): Need => need('redis-server', hasLocalRedis(), 'Debian: apt-get install redis-server; macOS: brew install redis; .ci/run installs it', 'required');
