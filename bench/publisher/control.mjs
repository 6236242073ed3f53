/** Starts the publisher process and drives it. */
import { fileURLToPath } from 'node:url';
import { Rpc } from '../lib/rpc.mjs';

const PUBLISHER = fileURLToPath(new URL('./publisher.mjs', import.meta.url));

/**
 * @typedef {object} PublishSpec  how a target is published to (see publisher.mjs)
 * @property {'herald' | 'path' | 'redis' | 'sio-emitter'} kind
 * @property {number[]} [ports]
 * @property {string} [headers]    extra request headers, each ending in \r\n
 * @property {string} [pathPrefix]
 * @property {string} [redisUrl]
 */

/**
 * @param {import('../lib/processes.mjs').ProcessSet} procs
 * @param {PublishSpec} spec
 * @param {{ topics: number, prefix: string, payloadBytes: number }} load
 */
export async function startPublisher(procs, spec, load) {
  const rpc = new Rpc(procs.fork('publisher', 'publisher', PUBLISHER));
  await rpc.call('configure', { config: { ...spec, ...load } });
  return {
    /**
     * Publishes at `rate` messages/s for `durationMs`, every payload tagged with `step`.
     * @returns {Promise<PublishResult>}
     */
    paced: (step, rate, durationMs, window = 128) => rpc.call('run', { step, rate, durationMs, window }, durationMs + 30_000),
    /**
     * Publishes `count` messages as fast as accepted, `window` in flight, for at most `maxMs`, tagged with `step`.
     * @returns {Promise<PublishResult>}
     */
    burst: (step, count, maxMs, window = 64) => rpc.call('run', { step, rate: 0, count, maxMs, window }, maxMs + 30_000),
    close: () => rpc.call('close'),
  };
}

/**
 * @typedef {object} PublishResult
 * @property {number} offered
 * @property {number} sent
 * @property {number} accepted
 * @property {number} rejected    HTTP 503: push-back
 * @property {number} failed
 * @property {number} unanswered
 * @property {Record<string, number>} statuses
 * @property {number[]} acceptedByTopic
 * @property {number[]} sentByTopic   sequences 0 … n−1 were sent on topic k
 * @property {number[]} refused       flat [topic, seq, …]: answered with a non-2xx status
 * @property {number[]} unconfirmed   flat [topic, seq, …]: no answer, or the connection closed first
 * @property {number} maxBehind   most messages the publisher was behind its schedule
 * @property {number} firstSendUs
 * @property {number} lastSendUs
 * @property {number} lastAnswerUs
 * @property {number} sendMs
 */
