/**
 * The benchmark harness's smoke scenario (bench/scenarios/smoke.mjs), run by
 * the same code as `npm run bench`: Herald in memory and through a private
 * Redis, 300 connections, a paced step and a burst. The warm-up must reach
 * every connection, and every accepted message must reach every subscriber of
 * its topic exactly once, in order, on its topic, identified by the step,
 * topic and sequence its payload carries (bench/lib/identity.mjs): a Herald
 * that drops some messages and duplicates others fails here even when the
 * frame count matches. The results must carry the documented fields
 * (bench/results.schema.json), and every process the harness started must be
 * gone afterwards. Then the recovery storm shrunk to 300 clients over 3
 * history topics (--scale 0.03), on one node and on three: every client
 * recovered, its 50 missed messages once and in order with contiguous offsets,
 * then live ones, and a bounded number of history reads per topic. The full
 * suite never runs here.
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
  // A ProcessSet starts nothing once stopped: the storm has its own.
  const stormProcs = new ProcessSet();
  let results: Results | undefined;

  afterAll(async () => {
    await procs.stopAll();
    await stormProcs.stopAll();
  });

  it('bench - delivers every accepted message exactly once, in order, in memory and through Redis, and records the documented fields', async () => {
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
      // Soft: a broken Herald fails several of these at once, and the report should show every one.
      expect.soft(run.warmup, `${run.label}: warm-up coverage`).toMatchObject({ covered: run.connections, ready: run.connections });
      const subscribersPerTopic = run.connections / run.topics;
      for (const step of [...run.steps!, run.burst!]) {
        const label = `${run.label} ${step.mode}`;
        // A busy machine may slow the publisher below its schedule; whatever it sent must be accepted and delivered.
        expect(step.publish.sent, label).toBeGreaterThan(0);
        expect(step.publish.accepted, label).toBe(step.publish.sent);
        expect(step.subscribers, label).toBe(run.connections);
        expect(step.expected, label).toBe(step.publish.accepted * subscribersPerTopic);
        // Every count of the identity check at once, so that a failure shows all of them.
        expect.soft(
          { lost: step.lost, duplicates: step.duplicates, outOfOrder: step.outOfOrder, wrongTopic: step.wrongTopic, shed: step.shed, ...step.stray },
          `${label}: ${step.delivered} of ${step.expected} delivered, ${step.received} frames received`,
        ).toEqual({ lost: 0, duplicates: 0, outOfOrder: 0, wrongTopic: 0, shed: { connections: 0, lost: 0 }, earlierStep: 0, untagged: 0, neverSent: 0, refused: 0, unconfirmed: 0 });
        expect.soft(step.delivered, `${label}: delivered`).toBe(step.expected);
        expect.soft(step.received, `${label}: frames received`).toBe(step.delivered);
        expect.soft(step.latencyMs.samples, `${label}: latency samples`).toBe(step.delivered);
        expect(step.latencyMs.p50).toBeGreaterThan(0);
        expect(step.cpu.byRole.server).toBeGreaterThanOrEqual(0);
        expect(Object.keys(step.cpu.byRole)).toEqual(expect.arrayContaining(['server', 'loadgen', 'publisher']));
        if (run.broker === 'redis') expect(step.cpu.byRole).toHaveProperty('redis');
      }
      expect(run.idle!.serverRssBytes).toBeGreaterThan(0);
    }
    const zeroLoss = results.budgets.find((b) => b.id === 'zero-loss');
    expect.soft(zeroLoss?.met, `zero-loss budget: ${zeroLoss?.measuredText}`).toBe(true);
    // Two targets, each a few seconds of work plus a quiet period per step; a Herald that loses messages adds the
    // harness's 2 s drain wait to each step. Bounded, but above the default 30 s on a loaded machine.
  }, 90_000);

  it('bench - a small recovery storm recovers every client with exactly what it missed, with few history reads per topic', async () => {
    const lines: string[] = [];
    let storm: Results;
    try {
      storm = await runSuite({ ...defaults(), only: ['recovery'], scale: 0.03, peers: ['herald'], doc: '', workers: 1 }, { procs: stormProcs, log: (line) => lines.push(line), command: 'vitest smoke recovery' });
    } finally {
      await stormProcs.stopAll();
    }
    const ajv = new Ajv({ allErrors: true, strict: false });
    expect(ajv.validate(schema, storm), ajv.errorsText()).toBe(true);

    const runs = storm.scenarios.recovery!.runs;
    expect(runs.map((r) => r.target)).toEqual(['herald-redis-hist', 'herald-redis-hist-3']);
    for (const run of runs) {
      expect(run.error, `${run.label}: ${run.error}\n${lines.join('\n')}`).toBeUndefined();
      const x = run.recovery!;
      expect(x.clients).toBe(300);
      expect(x.released.released, `${run.label}: topics released before the storm`).toBe(true);
      expect(x.published).toBe(x.missedPerClient * x.topics);
      expect.soft(x.acks, `${run.label}: acks`).toEqual({ recovered: x.clients, notRecovered: 0, none: 0 });
      expect.soft(x.caughtUp, `${run.label}: caught up`).toBe(x.clients);
      expect.soft(x.lastCaughtUpMs, `${run.label}: last caught up`).toBeGreaterThan(0);
      const [recovery, live] = run.steps!;
      expect(recovery!.mode).toBe('recovery');
      expect(recovery!.expected, run.label).toBe(x.clients * x.missedPerClient);
      expect(live!.expected, run.label).toBe(x.clients * live!.publish.accepted / x.topics);
      for (const step of [recovery!, live!]) {
        const label = `${run.label} ${step.mode}`;
        expect.soft(
          { lost: step.lost, duplicates: step.duplicates, outOfOrder: step.outOfOrder, wrongTopic: step.wrongTopic, ...step.stray },
          `${label}: ${step.delivered} of ${step.expected} delivered`,
        ).toEqual({ lost: 0, duplicates: 0, outOfOrder: 0, wrongTopic: 0, earlierStep: 0, untagged: 0, neverSent: 0, refused: 0, unconfirmed: 0 });
        // Every frame carried the offset after the one before it on its connection, from the since on.
        expect.soft(step.offsets, `${label}: offsets`).toEqual({ frames: step.received, gaps: 0, backwards: 0, missing: 0 });
        expect(step.received, label).toBeGreaterThan(0);
      }
      // Reads are shared per topic: a position and a window read per topic per node, not one per client.
      expect(x.redis.readsSeen, `${run.label}: Redis history reads`).toBeGreaterThan(0);
      expect(Math.max(...x.herald.readsPerNode), `${run.label}: Herald's history reads`).toBeGreaterThan(0);
      for (const [how, v] of Object.entries(x.readsPerTopicPerNode)) expect.soft(v, `${run.label}: reads per topic per node (${how})`).toBeLessThanOrEqual(3);
    }
    for (const id of ['recovery-storm', 'recovery-reads', 'history-offsets', 'zero-loss']) {
      const b = storm.budgets.find((x) => x.id === id);
      expect.soft(b?.met, `${id}: ${b?.measuredText}`).toBe(true);
    }
  }, 90_000);

  it('bench - leaves no process behind', () => {
    expect(procs.started().length).toBeGreaterThan(4);
    expect(procs.started().filter(alive)).toEqual([]);
    expect(stormProcs.started().length).toBeGreaterThan(4);
    expect(stormProcs.started().filter(alive)).toEqual([]);
  });
});
