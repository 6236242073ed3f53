/**
 * What the client does when a connection ends, by close code: the policy of
 * docs/protocol.md ("Close codes"). sdk/README.md shows the same table and a
 * test keeps the two in step. Every reconnect goes to the next URL of the list.
 *
 * - `soon`: reconnect within SOON_MS (backoff.ts), whatever the attempt count;
 * - `backoff`: reconnect after the jittered exponential backoff;
 * - `long`: reconnect after half to all of the maximum delay;
 * - `token`: get a new token from `getToken`, then reconnect (none, or it fails: closed);
 * - `stop`: do not reconnect (state `closed`): the same thing would fail again.
 */
export type CloseAction = 'soon' | 'backoff' | 'long' | 'token' | 'stop';

export const CLOSE_POLICY: Readonly<Record<number, CloseAction>> = {
  1000: 'backoff',
  1001: 'soon',
  1006: 'backoff',
  1009: 'stop',
  4001: 'token',
  4008: 'backoff',
  4029: 'long',
};

/** Codes not in the table (1011, proxies' 1012-1014, ...) back off like a network failure. */
export function closeAction(code: number): CloseAction {
  return CLOSE_POLICY[code] ?? 'backoff';
}
