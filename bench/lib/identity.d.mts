/** Types of identity.mjs for TypeScript callers (test/bench/identity.test.ts). */

export declare const MAX_SEQ: number;
export declare const FRESH: 0;
export declare const FRESH_OUT_OF_ORDER: 1;
export declare const DUPLICATE: 2;

export interface Tag {
  t: number;
  e: number;
  k: number;
  s: number;
  f: number;
}

export declare function payload(t: number, step: number, topic: number, seq: number, floor: number, size: number): string;
export declare function readTag(buf: Buffer, start: number, end: number, out: Tag): boolean;
export declare function readOffset(buf: Buffer, start: number, end: number): number;

export declare class SeqTracker {
  next: number;
  high: number;
  unique: number;
  floor: number;
  bits: Uint32Array | null;
  reset(): void;
  has(s: number): boolean;
  see(s: number, f: number): 0 | 1 | 2;
  eachAhead(fn: (s: number) => void): void;
}

export interface Tracked {
  topic: number;
  track: SeqTracker;
  inStep: boolean;
  closedWith: number;
  got: boolean;
  offset?: number;
}

export interface Expectation {
  sentByTopic: number[];
  refused: number[];
  unconfirmed: number[];
}

export interface Account {
  subscribers: number;
  received: number;
  fresh: number;
  duplicates: number;
  outOfOrder: number;
  wrongTopic: number;
  covered: number;
  expected: number | null;
  delivered: number | null;
  lost: number | null;
  shed: { connections: number; lost: number };
  stray: { earlierStep: number; untagged: number; neverSent: number; refused: number; unconfirmed: number };
  offsets: { frames: number; gaps: number; backwards: number; missing: number };
}

export declare class Ledger {
  step: number;
  begin<C extends Tracked>(step: number, conns: Iterable<C>, subscribed: (conn: C) => boolean): void;
  deliver(conn: Tracked, buf: Buffer, start: number, end: number): number;
  closed(conn: Tracked, code: number): void;
  expect(x: Expectation): void;
  account(conns: Iterable<Tracked>): Account;
  wanted(topic: number): number | null;
}

export declare function sumAccounts(parts: Account[]): Account;
export declare function identityFailures(step: object): string[] | null;
