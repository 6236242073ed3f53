/**
 * Compact JWS verification on node:crypto, for the connect path.
 *
 * jsonwebtoken decodes every token twice and copies its options on each call;
 * in a reconnect storm that was a third of the server's CPU per connect
 * (docs/benchmarks.md). This module does one decode and one signature check.
 * test/unit/jws.test.ts checks it against jsonwebtoken, token by token, on
 * valid, forged, malformed and confused-algorithm tokens: both must accept and
 * reject the same ones.
 *
 * Rules: three base64url segments; header a JSON object whose `alg` is in the
 * caller's allow-list (never "none"); any `crit` header is refused (RFC 7515
 * 4.1.11: Herald understands no extension); the key's type must fit the
 * algorithm family (HMAC secret for HS*, RSA of at least 2048 bits for RS* and
 * PS*, EC on the algorithm's curve for ES*), so no key can be used for an
 * algorithm it was not made for.
 */
import { constants, createHmac, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { Algorithm } from '../config.js';
import { parseBoundedJson } from '../protocol/json.js';

/** Headers and claims are flat in practice; deeper JSON is refused before anything walks or re-serialises it. */
const MAX_TOKEN_JSON_DEPTH = 32;
/** A `kid` names a key; anything longer is not a key name Herald will look up. */
const MAX_KID_LENGTH = 256;

export interface JwsHeader {
  readonly alg: string;
  readonly kid: string | undefined;
}

export interface DecodedJws {
  readonly header: JwsHeader;
  /** `<header>.<payload>` as sent: the bytes the signature covers. */
  readonly signingInput: string;
  readonly payloadSegment: string;
  readonly signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const HASH: Readonly<Record<string, string>> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };
const EC_CURVE: Readonly<Record<string, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const EC_SIGNATURE_BYTES: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 };
const MIN_RSA_BITS = 2048;

/** Headers repeat (one per issuer and algorithm), so each distinct header segment is parsed once. */
const headerCache = new Map<string, JwsHeader | string>();
const HEADER_CACHE_LIMIT = 256;

function parseHeader(segment: string): JwsHeader | string {
  const cached = headerCache.get(segment);
  if (cached !== undefined) return cached;
  let result: JwsHeader | string;
  const json = BASE64URL.test(segment) ? parseBoundedJson(Buffer.from(segment, 'base64url').toString('utf8'), MAX_TOKEN_JSON_DEPTH) : undefined;
  if (json === undefined || !json.ok) result = `header is not base64url-encoded JSON${json === undefined || json.problem === 'not valid JSON' ? '' : ` (${json.problem})`}`;
  else {
    const header = json.value;
    if (typeof header !== 'object' || header === null || Array.isArray(header)) result = 'header is not a JSON object';
    else {
      const { alg, kid, crit } = header as { alg?: unknown; kid?: unknown; crit?: unknown };
      if (typeof alg !== 'string') result = 'header has no "alg"';
      else if (crit !== undefined) result = 'header has "crit" extensions, which Herald does not support';
      else if (kid !== undefined && typeof kid !== 'string') result = 'header "kid" is not a string';
      else if (kid !== undefined && kid.length > MAX_KID_LENGTH) result = `header "kid" is longer than ${MAX_KID_LENGTH} characters`;
      else result = { alg, kid };
    }
  }
  if (headerCache.size >= HEADER_CACHE_LIMIT) headerCache.clear();
  headerCache.set(segment, result);
  return result;
}

/** Splits and checks the token's shape; the signature is not verified yet. */
export function decodeJws(token: string): DecodedJws | string {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) >= 0) return 'not a compact JWS (three dot-separated parts)';
  const headerSegment = token.slice(0, first);
  const payloadSegment = token.slice(first + 1, second);
  const signatureSegment = token.slice(second + 1);
  if (headerSegment === '' || payloadSegment === '' || signatureSegment === '') return 'empty token part (an unsigned token?)';
  if (!BASE64URL.test(signatureSegment) || !BASE64URL.test(payloadSegment)) return 'token part is not base64url';
  const header = parseHeader(headerSegment);
  if (typeof header === 'string') return header;
  const signature = Buffer.from(signatureSegment, 'base64url');
  // base64url's last character carries spare bits that decoding ignores: insist on the one canonical
  // spelling of the signature, so that a token has exactly one valid form (as jsonwebtoken does).
  if (signature.toString('base64url') !== signatureSegment) return 'signature is not canonical base64url';
  return { header, signingInput: token.slice(0, second), payloadSegment, signature };
}

/** Why `key` cannot verify `alg`, or undefined when it can. */
export function keyMismatch(alg: Algorithm, key: KeyObject): string | undefined {
  const family = alg.slice(0, 2);
  if (family === 'HS') return key.type === 'secret' ? undefined : `${alg} needs an HMAC secret`;
  if (key.type !== 'public') return `${alg} needs a public key`;
  if (family === 'RS' || family === 'PS') {
    if (key.asymmetricKeyType !== 'rsa') return `${alg} needs an RSA key`;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits >= MIN_RSA_BITS ? undefined : `RSA key of ${bits} bits; at least ${MIN_RSA_BITS} required`;
  }
  if (key.asymmetricKeyType !== 'ec') return `${alg} needs an EC key`;
  return key.asymmetricKeyDetails?.namedCurve === EC_CURVE[alg] ? undefined : `${alg} needs an EC key on ${EC_CURVE[alg]}`;
}

/** Verifies the signature of a decoded token with `key` (already checked with keyMismatch). */
export function signatureValid(alg: Algorithm, jws: DecodedJws, key: KeyObject): boolean {
  const hash = HASH[alg.slice(2)]!;
  const input = Buffer.from(jws.signingInput, 'ascii');
  switch (alg.slice(0, 2)) {
    case 'HS': {
      const expected = createHmac(hash, key).update(input).digest();
      return expected.length === jws.signature.length && timingSafeEqual(expected, jws.signature);
    }
    case 'RS':
      return verifySignature(hash, input, key, jws.signature);
    case 'PS':
      return verifySignature(hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, jws.signature);
    default:
      // JWS carries ECDSA signatures as r||s (IEEE P1363), not DER.
      if (jws.signature.length !== EC_SIGNATURE_BYTES[alg]) return false;
      return verifySignature(hash, input, { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
  }
}

/** Decodes the payload of a token whose signature was verified. */
export function decodePayload(jws: DecodedJws): Record<string, unknown> | string {
  const json = parseBoundedJson(Buffer.from(jws.payloadSegment, 'base64url').toString('utf8'), MAX_TOKEN_JSON_DEPTH);
  if (!json.ok) return json.problem === 'not valid JSON' ? 'payload is not base64url-encoded JSON' : `payload is ${json.problem}`;
  const payload = json.value;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return 'payload is not a JSON object';
  return payload as Record<string, unknown>;
}
