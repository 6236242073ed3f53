/** What every scenario does per target: open a session, measure, record, always close. */
import { identityFailures } from '../lib/identity.mjs';
import { TARGETS } from '../targets/index.mjs';
import { openSession } from './session.mjs';

/**
 * The targets a scenario runs, after --targets / --peers / --brokers, each
 * with the reason it is skipped (peer not installed) if it is.
 * @param {import('./session.mjs').Env & { unavailable: Record<string, string> }} env
 * @param {string[]} ids candidates, in report order
 */
export function selectTargets(env, ids) {
  const o = env.options;
  return ids
    .map((id) => TARGETS.find((t) => t.id === id))
    .filter((t) => t !== undefined)
    .filter((t) => (o.targets ? o.targets.includes(t.id) : o.peers.includes(t.family) && o.brokers.includes(t.broker)))
    .map((t) => ({ target: t, skip: env.unavailable[t.family] }));
}

/** The fields every run record starts with. */
export function runRecord(target, extra) {
  return { target: target.id, label: target.label, family: target.family, broker: target.broker, nodes: target.nodes, ...extra };
}

/**
 * Opens a session for each target in turn and hands it to `body`; a failure is
 * recorded in the run (error) and the next target runs.
 * @param {any} env
 * @param {string} scenario
 * @param {string[]} ids
 * @param {(target: import('../targets/index.mjs').Target) => import('./session.mjs').Load} load
 * @param {(session: import('./session.mjs').Session, run: Record<string, any>) => Promise<void>} body
 * @param {Record<string, unknown>} [extra] fields of every run record
 */
export async function eachTarget(env, scenario, ids, load, body, extra = {}) {
  const runs = [];
  for (const { target, skip } of selectTargets(env, ids)) {
    const spec = load(target);
    const run = runRecord(target, { ...extra, connections: spec.connections, topics: spec.topics });
    runs.push(run);
    if (skip) {
      run.skipped = skip;
      env.log(`  ${target.label}: skipped (${skip})`);
      continue;
    }
    env.log(`  ${target.label}: ${spec.connections} connections, ${spec.topics} topic(s)`);
    let session;
    const started = Date.now();
    try {
      session = await openSession(env, target, spec, `${scenario}-${target.id}-${spec.connections}`);
      run.connect = session.connect;
      env.log(`    connected ${session.ready} in ${session.connect.seconds} s (${session.connect.serverCpuUsPerConnect} µs server CPU each)`);
      await body(session, run);
    } catch (error) {
      run.error = String(/** @type {Error} */ (error)?.message ?? error).slice(0, 2000);
      env.log(`    FAILED: ${run.error.split('\n')[0]}`);
    } finally {
      await session?.close().catch((e) => env.log(`    cleanup: ${e.message}`));
      run.seconds = Math.round((Date.now() - started) / 100) / 10;
    }
  }
  return runs;
}

/** One line per step for the console. */
export function describeStep(s) {
  const what = s.mode === 'burst' ? `burst ${s.publish.accepted} msgs` : s.mode === 'recovery' ? `recovery of ${s.publish.accepted} msgs` : `${s.rate} msg/s`;
  const lat = s.latencyMs;
  const cpu = Object.entries(s.cpu.coresByRole).map(([r, c]) => `${r} ${c}`).join(' ');
  const failures = identityFailures(s) ?? [];
  const identity = failures.length ? ` IDENTITY: ${failures.join(', ')}` : '';
  return `${what}: ${s.delivered}/${s.expected} delivered (lost ${s.lost}, duplicates ${s.duplicates}, out of order ${s.outOfOrder}, wrong topic ${s.wrongTopic}), ${s.deliveriesPerSec} /s, p50 ${lat.p50} p99 ${lat.p99} max ${lat.max} ms, cores: ${cpu}${s.saturated ? ` [${s.saturated}]` : ''}${identity}`;
}
