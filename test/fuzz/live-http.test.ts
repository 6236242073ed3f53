/**
 * Live fuzzing of the HTTP side of a node: mutated upgrade requests (where the
 * token comes from, what it claims, what the headers say) and requests to the
 * publish API and other paths (hostile bodies, keys, framings). The node must
 * stay up, answer only documented statuses and codes, deliver exactly what it
 * accepted, and keep its memory and descriptors bounded.
 */
import { afterAll, describe, inject, it } from 'vitest';
import { hs256 } from '../helpers/tokens.js';
import { FULL, runs } from './lib/budget.js';
import { HTTP_MAX_MESSAGE, Ledger, OBSERVED_TOPICS, describeHttp, httpCase, httpCorpus, ledgerComplete, ledgerProblems, runHttpCase } from './lib/http-cases.js';
import { Live, Observer } from './lib/live.js';
import { ALLOWED_ORIGIN, describeUpgrade, runUpgradeCase, upgradeCase, upgradeCorpus } from './lib/upgrade-cases.js';

const CONCURRENCY = 12;

describe('live fuzz - upgrade requests', () => {
  const live = new Live('live-upgrade', inject('redisUrl'));
  afterAll(() => live.stop());

  it(
    'live fuzz - mutated upgrades and tokens: a welcome or 4001 exactly as the contract says, refusals with documented codes',
    async () => {
      await live.start({ env: { HERALD_ALLOWED_ORIGINS: ALLOWED_ORIGIN } });
      await live.run(runs(500, 12_000), CONCURRENCY, upgradeCase, (c, id) => runUpgradeCase(live, c, id), describeUpgrade, upgradeCorpus);
      await live.finish();
    },
    FULL ? 1_800_000 : 120_000,
  );
});

describe('live fuzz - HTTP requests', () => {
  const live = new Live('live-http', inject('redisUrl'));
  let observer: Observer | undefined;
  afterAll(async () => {
    observer?.close();
    await live.stop();
  });

  it(
    'live fuzz - hostile requests to /v1/publish and other paths: documented answers only, and exactly the accepted messages are delivered',
    async () => {
      const subscribe = async (): Promise<void> => {
        observer?.close();
        observer = await Observer.open(live.node.wsUrl, hs256({ sub: 'observer', topics: ['fz.h.*'] }));
        for (const topic of OBSERVED_TOPICS) await observer.subscribe(topic);
      };
      await live.start({ env: { HERALD_MAX_MESSAGE_SIZE: String(HTTP_MAX_MESSAGE) }, onStart: subscribe });
      const ledger = new Ledger();
      await live.run(runs(800, 20_000), CONCURRENCY, httpCase, (c, id) => runHttpCase(live, c, id, ledger), describeHttp, httpCorpus);
      const received = (): Record<string, unknown>[] => observer!.messages().filter((m) => OBSERVED_TOPICS.includes(String(m.topic)));
      await observer!.until(() => ledgerComplete(ledger, received()), 15_000, 'every accepted message at the subscriber').catch(() => undefined);
      // Stragglers: anything published without a 202 would arrive about now.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const problem of ledgerProblems(ledger, received()).slice(0, 10)) live.violation('live-http delivery', problem);
      for (const problem of observer!.problems.slice(0, 5)) live.violation('live-http observer', problem);
      live.tally.extra.messages_delivered = received().length;
      await live.finish();
    },
    FULL ? 1_800_000 : 120_000,
  );
});
