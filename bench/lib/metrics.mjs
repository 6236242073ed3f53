/**
 * Counters read from outside the system under test: Herald's Prometheus
 * exposition (/metrics on each node's HERALD_METRICS_PORT) and Redis's own
 * accounting (INFO commandstats, MONITOR), so that a figure Herald reports
 * about itself can be checked against one Redis counts independently.
 */
import { Redis } from 'ioredis';
import { HOST } from './net.mjs';

/**
 * One scrape of a node's /metrics; null when it does not answer.
 * @param {number} port
 * @returns {Promise<{ sum: (name: string, labels?: string) => number } | null>} sum: the samples of `name` over all
 *   its labels, or only those whose labels contain `labels` (e.g. 'outcome="recovered"'); NaN when there is none
 */
export async function scrape(port) {
  let text;
  try {
    const res = await fetch(`http://${HOST}:${port}/metrics`, { signal: AbortSignal.timeout(3000) });
    text = await res.text();
  } catch {
    return null;
  }
  return {
    sum(name, labels = '') {
      let total = NaN;
      for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) {
        if (labels && !(m[1] ?? '').includes(labels)) continue;
        total = (Number.isNaN(total) ? 0 : total) + Number(m[2]);
      }
      return total;
    },
  };
}

/**
 * `name` (its samples whose labels contain `labels`) summed on every node, one number per node (NaN for a node that did not answer).
 * @param {number[]} ports
 * @param {string} name
 * @param {string} [labels]
 */
export async function perNode(ports, name, labels) {
  return Promise.all(ports.map(async (port) => (await scrape(port))?.sum(name, labels) ?? NaN));
}

/**
 * Calls of each command so far, from INFO commandstats (`cmdstat_fcall:calls=…`).
 * @param {string} url
 * @returns {Promise<Record<string, number>>} by lower-case command name
 */
export async function commandCalls(url) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  try {
    await redis.connect();
    const info = /** @type {string} */ (await redis.info('commandstats'));
    /** @type {Record<string, number>} */
    const out = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  } finally {
    redis.disconnect();
  }
}

/**
 * Channels matching `pattern` that some client is subscribed to (PUBSUB CHANNELS): which topics nodes still hold.
 * @param {string} url
 * @param {string} pattern
 */
export async function subscribedChannels(url, pattern) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  try {
    await redis.connect();
    return /** @type {string[]} */ (await redis.pubsub('CHANNELS', pattern)).length;
  } finally {
    redis.disconnect();
  }
}

/**
 * Watches every command Redis executes (MONITOR) and counts the Redis
 * Function calls by function and by the topic of their first key
 * (`{<prefix>:<topic>}:…`): which reads Herald issued for which topic, apart
 * from its probes and publishes, whatever Herald says about itself. For
 * short windows only (a storm's reads): MONITOR costs Redis a little per command.
 * @param {string} url
 */
export async function watchFunctionCalls(url) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  await redis.connect();
  const monitor = await redis.monitor();
  /** @type {Record<string, Map<string, number>>} function → topic → calls */
  const byFunction = {};
  monitor.on('monitor', (_time, args) => {
    if (String(args[0]).toLowerCase() !== 'fcall') return;
    const fn = String(args[1]);
    const key = String(args[3] ?? '');
    const topic = /^\{[^:}]*:([^}]*)\}/.exec(key)?.[1] ?? '';
    const topics = (byFunction[fn] ??= new Map());
    topics.set(topic, (topics.get(topic) ?? 0) + 1);
  });
  return {
    /** Calls so far by function, whatever their keys. */
    totals() {
      /** @type {Record<string, number>} */
      const out = {};
      for (const [fn, topics] of Object.entries(byFunction)) out[fn] = [...topics.values()].reduce((a, b) => a + b, 0);
      return out;
    },
    /** Calls of `fn` per topic so far (topics whose name starts with `prefix`). */
    calls(fn, prefix = '') {
      /** @type {Map<string, number>} */
      const out = new Map();
      for (const [topic, n] of byFunction[fn] ?? []) if (topic.startsWith(prefix)) out.set(topic, n);
      return out;
    },
    stop() {
      monitor.disconnect();
      redis.disconnect();
    },
  };
}
