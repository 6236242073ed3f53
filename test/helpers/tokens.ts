/** Signing helpers for tests: every algorithm family Herald verifies. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

export const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
export const API_KEY = 'test-api-key-0123456789';

export interface Claims {
  sub?: string;
  topics?: unknown;
  publish?: unknown;
  exp?: number;
  nbf?: number;
  iss?: string;
  aud?: string;
  [claim: string]: unknown;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Default claims: sub "alice", may subscribe to everything under "prices" and "user.alice", valid for an hour. */
export function claims(overrides: Claims = {}): Claims {
  const merged: Claims = { sub: 'alice', topics: ['prices.*', 'user.{sub}.>'], exp: nowSeconds() + 3600, ...overrides };
  // An override of `undefined` removes the claim.
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  return merged;
}

export function hs256(overrides: Claims = {}, secret: string = SECRET, algorithm: jwt.Algorithm = 'HS256'): string {
  return jwt.sign(claims(overrides), secret, { algorithm, noTimestamp: true });
}

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
}

export function rsaKeys(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function ecKeys(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function signWith(keys: KeyPair, algorithm: jwt.Algorithm, overrides: Claims = {}, kid?: string): string {
  return jwt.sign(claims(overrides), keys.privateKey, { algorithm, noTimestamp: true, ...(kid === undefined ? {} : { keyid: kid }) });
}

/** A token with `alg: none` and no signature, as an attacker would craft it. */
export function unsignedToken(overrides: Claims = {}): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims(overrides))}.`;
}
