/**
 * The benchmark harness's smoke scenario (bench/scenarios/smoke.mjs), run by
 * the same code as `npm run bench`: Herald in memory and through a private
 * Redis, 300 connections, a paced step and a burst. Every accepted message
 * must reach every subscriber of its topic, the results must carry the
 * documented fields (bench/results.schema.json), and every process the
 * harness started must be gone afterwards. The full suite never runs here.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { runSuite, type Results } from '../../bench/harness.mjs';
import { ProcessSet } from '../../bench/lib/processes.mjs';
import { defaults } from '../../bench/options.mjs';

const schema = JSON.parse(readFileSync(new URL('../../bench/results.schema.json', import.meta.url), 'utf8')) as object;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('bench - smoke scenario', () => {
  const procs = new ProcessSet();
  let results: Results | undefined;

  afterAll(async () => {
    await procs.stopAll();
  });

  it('bench - delivers every accepted message, in memory and through Redis, and records the documented fields', async () => {
    const lines: string[] = [];
    try {
      results = await runSuite({ ...defaults(), only: ['smoke'], doc: '', workers: 1 }, { procs, log: (line) => lines.push(line), command: 'vitest smoke' });
    } finally {
      await procs.stopAll();
    }

    const ajv = new Ajv({ allErrors: true, strict: false });
    const valid = ajv.validate(schema, results);
    expect(ajv.errors ?? [], ajv.errorsText()).toEqual([]);
    expect(valid).toBe(true);

    const runs = results.scenarios.smoke!.runs;
    expect(runs.map((r) => r.target)).toEqual(['herald-memory', 'herald-redis']);
    for (const run of runs) {
      expect(run.error, `${run.label}: ${run.error}\n${lines.join('\n')}`).toBeUndefined();
      expect(run.connect!.ready).toBe(run.connections);
      for (const step of [...run.steps!, run.burst!]) {
        // A busy machine may slow the publisher below its schedule; whatever it sent must be accepted and delivered.
        expect(step.publish.sent, `${run.label} ${step.mode}`).toBeGreaterThan(0);
        expect(step.publish.accepted, `${run.label} ${step.mode}`).toBe(step.publish.sent);
        expect(step.expected).toBeGreaterThan(0);
        expect(step.delivered, `${run.label} ${step.mode}: delivered vs expected`).toBe(step.expected);
        expect(step.lost).toBe(0);
        expect(step.latencyMs.samples).toBe(step.delivered);
        expect(step.latencyMs.p50).toBeGreaterThan(0);
        expect(step.cpu.byRole.server).toBeGreaterThanOrEqual(0);
        expect(Object.keys(step.cpu.byRole)).toEqual(expect.arrayContaining(['server', 'loadgen', 'publisher']));
        if (run.broker === 'redis') expect(step.cpu.byRole).toHaveProperty('redis');
      }
      expect(run.idle!.serverRssBytes).toBeGreaterThan(0);
    }
  });

  it('bench - leaves no process behind', () => {
    expect(procs.started().length).toBeGreaterThan(4);
    expect(procs.started().filter(alive)).toEqual([]);
  });
});
