/**
 * Live fuzzing of the WebSocket transport: a Herald process, thousands of raw
 * connections sending legal frames with hostile JSON, fragmented at any byte,
 * and protocol violations, frames at every size limit, bad close frames and
 * truncated frames. The node must stay up, answer only documented codes and
 * keep its memory and descriptors bounded.
 */
import { afterAll, describe, inject, it } from 'vitest';
import { FULL, runs } from './lib/budget.js';
import { Live } from './lib/live.js';
import { describeProtocolCase, protocolCase, protocolCorpus, runProtocolCase } from './lib/protocol-cases.js';
import { describeCase, wsCase, wsCorpus } from './lib/ws-cases.js';
import { runWsCase } from './lib/ws-run.js';

const MAX_PAYLOAD = 16_384;
const CASES = runs(1200, 35_000);
const CONCURRENCY = 12;

describe('live fuzz - WebSocket frames on raw sockets', () => {
  const live = new Live('live-ws-frames', inject('redisUrl'));
  afterAll(() => live.stop());

  it(
    'live fuzz - mutated and random WebSocket frames: the node stays up, answers documented codes only, memory and descriptors stay bounded',
    async () => {
      await live.start({ env: { HERALD_MAX_PAYLOAD: String(MAX_PAYLOAD) } });
      await live.run(CASES, CONCURRENCY, wsCase(MAX_PAYLOAD), (c, id) => runWsCase(live, c, id), describeCase, wsCorpus());
      await live.finish();
    },
    FULL ? 1_800_000 : 120_000,
  );
});

describe('live fuzz - the client protocol, frame by frame', () => {
  const live = new Live('live-ws-protocol', inject('redisUrl'));
  afterAll(() => live.stop());

  it(
    'live fuzz - hostile frames on one connection: each reply is the one docs/protocol.md gives, published data comes back intact',
    async () => {
      await live.start({ env: { HERALD_MAX_PAYLOAD: String(MAX_PAYLOAD), HERALD_MAX_MESSAGE_SIZE: '4096', HERALD_MAX_SUBSCRIPTIONS: '8' } });
      await live.run(runs(150, 4000), CONCURRENCY, protocolCase(MAX_PAYLOAD), (c, id) => runProtocolCase(live, c, id), describeProtocolCase, protocolCorpus());
      await live.finish();
    },
    FULL ? 1_800_000 : 120_000,
  );
});
