/**
 * Hostile messages PUBLISHed straight into the Redis channels of topics the
 * node's clients hold ("Publishing through Redis" in docs/protocol.md): valid
 * envelopes must reach the subscriber intact, everything else must be dropped
 * and counted in herald_messages_dropped_total{reason="invalid"} — and no
 * message may take the node down (issue 8: one such message ended every node
 * subscribed to the topic at once).
 */
import fc from 'fast-check';
import { bulkyText } from './arbitraries.js';
import { LIMITS } from './contract.js';
import { envelopeBytes, expectEnvelope } from './envelope-model.js';
import { canonical, nestedText } from './json.js';
import type { Live } from './live.js';
import { preview } from './ws-cases.js';

export const REDIS_TOPICS = ['fz.r.0', 'fz.r.1', 'fz.r.2', 'fz.r.3'];

export interface RedisCase {
  topic: number;
  payload: Uint8Array;
}

export const redisCase: fc.Arbitrary<RedisCase> = fc.record({
  topic: fc.nat(REDIS_TOPICS.length - 1),
  payload: fc.oneof(
    { weight: 30, arbitrary: envelopeBytes },
    // Big but valid: delivered whole.
    { weight: 1, arbitrary: bulkyText.map((t) => Buffer.from(`{"data":${t}}`) as Uint8Array) },
  ),
});

const envelope = (text: string, topic = 0): RedisCase => ({ topic, payload: Buffer.from(text) });

/** Issue 8, finding 1 through Redis, and the depth limit of contract-8 at its edge. */
export const redisCorpus: RedisCase[] = [
  // Presence events whose info or sub no token could carry, on topics with join/leave.
  envelope(`{"event":"join","sub":"mallory","info":${nestedText(5000, 'object')}}`),
  envelope(`{"event":"leave","sub":${nestedText(5000)},"info":{"a":1}}`, 1),
  envelope(`{"event":"join","sub":"mallory","info":"${'i'.repeat(300_000)}"}`, 2),
  envelope(`{"data":${nestedText(5000)}}`),
  envelope(`{"data":${nestedText(100_000, 'object')}}`),
  envelope(`{"data":${nestedText(LIMITS.dataDepth)}}`, 1),
  envelope(`{"data":${nestedText(LIMITS.dataDepth + 1)}}`, 1),
  envelope('{"data":1,"ts":1e400}', 2),
  envelope('{"data":[1e400,-0,"\\ud800"],"ts":-1}', 2),
  envelope(`{"data":1,"x":${nestedText(5000)}}`, 3),
];

export function describeRedis(c: RedisCase): string {
  return `PUBLISH <prefix>:${REDIS_TOPICS[c.topic]} ${preview(c.payload, 200)}`;
}

/** What was published, by verdict, to check deliveries and the drop counter at the end. */
export class RedisLedger {
  readonly deliver = new Map<string, number>();
  /** Envelopes with invalid UTF-8: if delivered, then as a decoder that replaces the bad bytes reads them. */
  readonly optional = new Map<string, number>();
  deliverCount = 0;
  drops = 0;
  either = 0;
  sent = 0;
  /** Envelopes with an `event` (presence events, hostile or not): neither messages nor necessarily counted as dropped. */
  events = 0;
}

export async function runRedisCase(live: Live, c: RedisCase, caseId: string, ledger: RedisLedger): Promise<string> {
  const topic = REDIS_TOPICS[c.topic]!;
  const expected = expectEnvelope(c.payload);
  // Counted before the PUBLISH: the delivery may arrive before the reply does.
  ledger.sent++;
  if (expected.verdict === 'deliver') {
    const key = `${topic}\n${canonical(expected.data)}`;
    ledger.deliver.set(key, (ledger.deliver.get(key) ?? 0) + 1);
    ledger.deliverCount++;
  } else if (expected.verdict === 'drop') ledger.drops++;
  else {
    ledger.either++;
    if (/"event"\s*:/.test(Buffer.from(c.payload).toString('utf8'))) ledger.events++;
    const replaced = expectEnvelope(Buffer.from(Buffer.from(c.payload).toString('utf8')));
    if (replaced.verdict === 'deliver') {
      const key = `${topic}\n${canonical(replaced.data)}`;
      ledger.optional.set(key, (ledger.optional.get(key) ?? 0) + 1);
    }
  }
  const receivers = await live.redisClient().publish(`${live.prefix}:${topic}`, Buffer.from(c.payload));
  // The node holds the topic for its subscriber: Redis must count it as a receiver.
  if (receivers < 1) live.violation(caseId, `Redis counted ${receivers} subscribers of ${topic}: the node lost its subscription`);
  return expected.verdict;
}

/** Compares deliveries with the ledger; returns the problems. */
export function redisProblems(ledger: RedisLedger, received: Record<string, unknown>[]): string[] {
  const got = new Map<string, number>();
  for (const m of received) {
    const key = `${String(m.topic)}\n${canonical(m.data)}`;
    got.set(key, (got.get(key) ?? 0) + 1);
  }
  const problems: string[] = [];
  for (const [key, n] of ledger.deliver) {
    const have = got.get(key) ?? 0;
    if (have < n) problems.push(`a valid envelope published ${n}× was delivered ${have}×: ${key.replace('\n', ' ').slice(0, 200)}`);
  }
  // Whatever else arrived must come from envelopes the contract leaves open (invalid UTF-8), read with the bad
  // bytes replaced — never from envelopes that must be dropped.
  for (const [key, n] of got) {
    const allowed = (ledger.deliver.get(key) ?? 0) + (ledger.optional.get(key) ?? 0);
    if (n > allowed) problems.push(`delivered ${n}× but published as a valid envelope ${allowed}×: ${key.replace('\n', ' ').slice(0, 200)}`);
  }
  return problems;
}
