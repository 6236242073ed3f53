/**
 * Guard: a token refreshed with an `auth` frame is enforced at its own `exp`.
 * protocol.test.ts proves the old expiry was cancelled; these prove the new
 * one was scheduled, later or earlier than the old.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { hs256, nowSeconds } from '../helpers/tokens.js';

/** Expiry is swept every 250 ms; a close within this of exp is on time. */
const ON_TIME_MS = 1000;

describe('guards - a refreshed token expires at its own exp', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => node.close());

  it('guards - refreshed to a later exp: open past the first exp, closed with 4001 token_expired within a second of the new one', async () => {
    const firstExp = nowSeconds() + 2;
    const client = await TestClient.open(node.wsUrl, hs256({ exp: firstExp }));
    const newExp = firstExp + 2;
    expect(await client.request({ type: 'auth', token: hs256({ exp: newExp }) })).toMatchObject({ type: 'ack' });
    const closed = await client.waitClosed((newExp - nowSeconds()) * 1000 + ON_TIME_MS + 2000);
    const closedAt = Date.now();
    expect(closed).toEqual({ code: 4001, reason: 'token_expired' });
    expect(closedAt - firstExp * 1000, 'ms after the first exp').toBeGreaterThanOrEqual(ON_TIME_MS);
    expect(closedAt - newExp * 1000, 'ms after the new exp').toBeGreaterThanOrEqual(0);
    expect(closedAt - newExp * 1000, 'ms after the new exp').toBeLessThan(ON_TIME_MS);
  });

  it('guards - refreshed to an earlier exp: closed with 4001 token_expired within a second of the new exp, long before the first', async () => {
    const client = await TestClient.open(node.wsUrl, hs256({ exp: nowSeconds() + 3600 }));
    const newExp = nowSeconds() + 2;
    expect(await client.request({ type: 'auth', token: hs256({ exp: newExp }) })).toMatchObject({ type: 'ack' });
    const closed = await client.waitClosed((newExp - nowSeconds()) * 1000 + ON_TIME_MS + 2000);
    const late = Date.now() - newExp * 1000;
    expect(closed).toEqual({ code: 4001, reason: 'token_expired' });
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(ON_TIME_MS);
  });
});
