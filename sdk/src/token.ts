/** Token lifetime: reading `exp`, and when to refresh ahead of it. */

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The `exp` claim of a JWT, read without verifying it: Herald verifies tokens,
 * the client only needs to know when to refresh. The `auth` ack carries no
 * expiry, so a refreshed token's is read here.
 */
export function tokenExp(token: string): number | undefined {
  let bits = 0;
  let value = 0;
  let text = '';
  for (const char of token.split('.')[1] ?? '') {
    value = ((value << 6) | BASE64URL.indexOf(char)) & 0xffff;
    bits += 6;
    if (bits >= 8) text += String.fromCharCode((value >> (bits -= 8)) & 255);
  }
  try {
    const exp = JSON.parse(text).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Milliseconds from `now` until a token expiring at `exp` (unix seconds) is
 * refreshed: `skewMs` ahead of its expiry, or halfway through what is left
 * when that is shorter than twice the skew.
 */
export function refreshDelay(exp: number, now: number, skewMs: number): number {
  const left = exp * 1000 - now;
  return Math.max(0, left - Math.min(skewMs, left / 2));
}
