/** Issue 8's drain finding: closes are spread over the whole window whatever the number of connections. */
import { describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startNode } from '../helpers/node.js';
import { hs256 } from '../helpers/tokens.js';

describe('hardening - drain', () => {
  it('hardening - 10 connections drained over 3 s are closed one by one about 300 ms apart, not all at once', async () => {
    const node = await startNode({ HERALD_DRAIN_SECONDS: '3' });
    const clients = await Promise.all(Array.from({ length: 10 }, () => TestClient.open(node.wsUrl, hs256())));
    const closedAt: number[] = [];
    for (const client of clients) void client.closed.then(() => closedAt.push(Date.now()));
    const started = Date.now();
    await node.herald.shutdown();
    await Promise.all(clients.map((c) => c.waitClosed(1000)));
    expect(closedAt).toHaveLength(10);
    const offsets = closedAt.sort((a, b) => a - b).map((t) => t - started);
    // Socket i of n closes at i/n of the window: 0, 300, 600, ... 2700 ms (scheduling adds a little).
    offsets.forEach((offset, i) => {
      expect(offset, `close ${i} at ${offset} ms of ${JSON.stringify(offsets)}`).toBeGreaterThanOrEqual(i * 300 - 20);
      expect(offset, `close ${i} at ${offset} ms of ${JSON.stringify(offsets)}`).toBeLessThan(i * 300 + 250);
    });
    // Every gap between consecutive closes is near 300 ms: no bunching at either end.
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]! - offsets[i - 1]!, `gap ${i}`).toBeGreaterThan(150);
  });
});
