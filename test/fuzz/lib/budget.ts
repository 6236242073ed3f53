/**
 * How long the fuzz suite runs and how to replay it.
 *
 * `npm test` runs the bounded budget; `npm run fuzz` sets HERALD_FUZZ=full.
 * Every target prints its seed; HERALD_FUZZ_SEED=<n> replays a run (the
 * property tests exactly, fast-check also prints the shrunk counterexample's
 * path; the live targets generate the same cases in the same order).
 * HERALD_FUZZ_REPORT_DIR, when set, receives one JSON summary per target
 * (test/fuzz/run.mjs sets it and prints the totals).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Parameters } from 'fast-check';

export const FULL = process.env.HERALD_FUZZ === 'full';

export const runs = (bounded: number, full: number): number => (FULL ? full : bounded);

/** Per-test timeout of the property tests: vitest's default in `npm test`, long enough for the full budget. */
export const PROPERTY_TIMEOUT = FULL ? 1_200_000 : 30_000;

const fixedSeed = process.env.HERALD_FUZZ_SEED === undefined || process.env.HERALD_FUZZ_SEED === '' ? undefined : Number(process.env.HERALD_FUZZ_SEED);

/** The seed of one target: HERALD_FUZZ_SEED when given, else a fresh one; printed either way. */
export function seedFor(target: string): number {
  const seed = fixedSeed ?? (Math.random() * 2 ** 31) | 0;
  console.log(`[fuzz] ${target}: seed ${seed} (replay with HERALD_FUZZ_SEED=${seed}${FULL ? ' HERALD_FUZZ=full' : ''})`);
  return seed;
}

/** Outcome counts of one target, printed at its end and written for the summary. */
export class Tally {
  cases = 0;
  readonly outcomes = new Map<string, number>();
  readonly extra: Record<string, number | string> = {};

  constructor(
    readonly target: string,
    readonly seed: number,
  ) {}

  count(outcome: string, n = 1): void {
    this.cases += n;
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + n);
  }

  /** Outcomes counted without adding cases (e.g. several replies to one case). */
  note(outcome: string, n = 1): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + n);
  }

  report(): void {
    const outcomes = [...this.outcomes.entries()].sort((a, b) => b[1] - a[1]);
    const extra = Object.entries(this.extra).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`[fuzz] ${this.target}: ${this.cases} cases, seed ${this.seed}${extra === '' ? '' : `, ${extra}`}\n${outcomes.map(([k, n]) => `    ${String(n).padStart(8)}  ${k}`).join('\n')}`);
    const dir = process.env.HERALD_FUZZ_REPORT_DIR;
    if (dir !== undefined && dir !== '') {
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, `${this.target.replace(/[^a-z0-9_-]+/gi, '_')}.json`),
        JSON.stringify({ target: this.target, seed: this.seed, cases: this.cases, outcomes: Object.fromEntries(outcomes), extra: this.extra }),
      );
    }
  }
}

/**
 * fast-check parameters for one property: seeded, counted into `tally`, and sized by the budget. Shrinking
 * is on: a failure prints the seed, the path and the smallest counterexample found.
 */
export function property(tally: Tally, bounded: number, full: number): Parameters<unknown> {
  return { seed: tally.seed, numRuns: runs(bounded, full) };
}
