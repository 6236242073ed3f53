/**
 * Three nodes over one Redis: 21,000 subscribers on one topic, 7,000 per
 * node (together more than one process could hold: the load generator holds
 * them in two workers of 10,500), publishes round-robin over the nodes' HTTP
 * APIs (Herald, Nchan) or through the Redis emitter (Socket.IO). Bare
 * uWebSockets.js has no multi-node mode.
 */
import { run as fanout } from './fanout.mjs';

export const TARGET_IDS = ['herald-redis-3', 'socketio-redis-3', 'nchan-redis-3'];

/** @param {any} env */
export async function run(env) {
  const result = await fanout(env, [{ subscribers: 21000, rates: [10, 50, 100, 200, 500] }], TARGET_IDS, 'three nodes, fan-out');
  return { ...result, title: 'Three nodes over one Redis', description: `Fan-out with the subscribers spread over three nodes sharing one Redis. ${result.description}` };
}
