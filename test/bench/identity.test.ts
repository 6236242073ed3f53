/**
 * The benchmark's accounting of deliveries (bench/lib/identity.mjs), as pure
 * logic: tagged payloads fed to a ledger as a load-generator worker feeds it,
 * with duplicates, gaps, reordering, wrong topics, frames of an earlier step,
 * refused and unanswered publishes, connections shed with 4008, and the
 * offsets of history topics.
 */
import { describe, expect, it } from 'vitest';
import { identityFailures, Ledger, MAX_SEQ, payload, readOffset, readTag, SeqTracker, sumAccounts, type Tag, type Tracked } from '../../bench/lib/identity.mjs';

interface Conn extends Tracked {
  open: boolean;
}

function conn(topic: number): Conn {
  return { topic, track: new SeqTracker(), inStep: false, closedWith: 0, got: false, open: true };
}

function conns(topics: number[]): Conn[] {
  return topics.map(conn);
}

/** A Herald delivery frame carrying the tagged payload, as the load generator receives it. */
function frame(step: number, topic: number, seq: number, floor = 0): Buffer {
  return Buffer.from(`{"type":"message","topic":"bench.t${topic}","data":${payload(1000 + seq, step, topic, seq, floor, 100)},"ts":1767225600123}`);
}

function deliver(ledger: Ledger, conn: Conn, step: number, topic: number, seq: number, floor = 0): number {
  const buf = frame(step, topic, seq, floor);
  return ledger.deliver(conn, buf, 0, buf.length);
}

/** Everything sent and accepted: n sequences on each of `topics` topics. */
function allAccepted(topics: number, n: number) {
  return { sentByTopic: new Array<number>(topics).fill(n), refused: [], unconfirmed: [] };
}

function begin(step: number, cs: Conn[]): Ledger {
  const ledger = new Ledger();
  ledger.begin(step, cs, (c) => c.open);
  return ledger;
}

describe('bench identity - tags', () => {
  it('bench identity - reads the tag from a Herald frame, a Socket.IO event and a bare payload', () => {
    const p = payload(123456789012, 7, 3, 42, 40, 100);
    expect(p.length).toBe(100);
    expect(JSON.parse(p)).toMatchObject({ t: 123456789012, e: 7, k: 3, s: 42, f: 40 });
    for (const text of [`{"type":"message","topic":"a","data":${p},"ts":1}`, `42["m",${JSON.stringify(JSON.parse(p))}]`, p]) {
      const tag: Tag = { t: 0, e: 0, k: 0, s: 0, f: 0 };
      const buf = Buffer.from(`xx${text}yy`);
      expect(readTag(buf, 2, buf.length - 2, tag), text).toBe(true);
      expect(tag).toEqual({ t: 123456789012, e: 7, k: 3, s: 42, f: 40 });
    }
  });

  it('bench identity - refuses a truncated, reordered or absurd tag', () => {
    const tag: Tag = { t: 0, e: 0, k: 0, s: 0, f: 0 };
    const p = Buffer.from(payload(5, 1, 2, 3, 0, 60));
    const full = p.indexOf(',"p"');
    expect(readTag(p, 0, full, tag)).toBe(true);
    expect(readTag(p, 0, full - 6, tag)).toBe(false);
    expect(readTag(Buffer.from('{"t":5,"k":2,"e":1,"s":3,"f":0}'), 0, 31, tag)).toBe(false);
    expect(readTag(Buffer.from(`{"t":5,"e":1,"k":2,"s":${MAX_SEQ},"f":0}`), 0, 40, tag)).toBe(false);
    expect(readTag(Buffer.from('{"type":"message","data":{"x":1}}'), 0, 33, tag)).toBe(false);
  });
});

describe('bench identity - sequence tracker', () => {
  it('bench identity - keeps no bitmap while in order, and drops it once a gap closes', () => {
    const t = new SeqTracker();
    for (let s = 0; s < 1000; s++) expect(t.see(s, 0)).toBe(0);
    expect(t.bits).toBeNull();
    expect(t.see(1002, 0)).toBe(0);
    expect(t.bits).not.toBeNull();
    expect(t.see(1001, 0)).toBe(0);
    expect(t.see(1000, 0)).toBe(0);
    expect(t.bits).toBeNull();
    expect([t.next, t.high, t.unique]).toEqual([1003, 1003, 1003]);
    expect(t.see(500, 0)).toBe(2);
    expect(t.see(1001, 0)).toBe(2);
  });

  it('bench identity - counts out of order only what arrived after a message published after it', () => {
    const t = new SeqTracker();
    // 1 and 0 were in flight together (floor 0): the server may order them either way.
    expect(t.see(1, 0)).toBe(0);
    expect(t.see(0, 0)).toBe(0);
    // 5 was sent after 2, 3 and 4 were answered (floor 5): 2 arriving after it is out of order.
    expect(t.see(5, 5)).toBe(0);
    expect(t.see(2, 2)).toBe(1);
    expect(t.see(4, 2)).toBe(1);
    expect(t.see(3, 3)).toBe(1);
    expect(t.see(6, 5)).toBe(0);
  });
});

describe('bench identity - ledger', () => {
  it('bench identity - a clean step: every accepted message once, in order, to every subscriber', () => {
    const cs = conns([0, 0, 1]);
    const ledger = begin(1, cs);
    for (const c of cs) for (let s = 0; s < 50; s++) expect(deliver(ledger, c, 1, c.topic, s, s)).toBe(1000 + s);
    ledger.expect(allAccepted(2, 50));
    const a = ledger.account(cs);
    expect(a).toMatchObject({ subscribers: 3, expected: 150, delivered: 150, lost: 0, received: 150, duplicates: 0, outOfOrder: 0, wrongTopic: 0, covered: 3 });
    expect(a.stray).toEqual({ earlierStep: 0, untagged: 0, neverSent: 0, refused: 0, unconfirmed: 0 });
    expect(identityFailures(a)).toEqual([]);
  });

  it('bench identity - a server that drops every other message and sends the rest twice is caught although the frame count matches', () => {
    const cs = conns([0, 0, 0, 0]);
    const ledger = begin(1, cs);
    for (const c of cs) {
      for (let s = 0; s < 100; s += 2) {
        deliver(ledger, c, 1, 0, s, s);
        deliver(ledger, c, 1, 0, s, s);
      }
    }
    ledger.expect(allAccepted(1, 100));
    const a = ledger.account(cs);
    // As many frames as expected deliveries: what a frame count reported as "400/400 delivered, lost 0".
    expect(a.received).toBe(400);
    expect(a).toMatchObject({ expected: 400, delivered: 200, lost: 200, duplicates: 200, outOfOrder: 0 });
    expect(identityFailures(a)).toEqual(['lost 200', 'duplicates 200']);
  });

  it('bench identity - gaps are lost, duplicates never count twice, and lost is never clamped', () => {
    const c = conn(0);
    const ledger = begin(3, [c]);
    for (const s of [0, 1, 4, 4, 7, 1, 9]) deliver(ledger, c, 3, 0, s, 0);
    ledger.expect(allAccepted(1, 10));
    const a = ledger.account([c]);
    expect(a).toMatchObject({ expected: 10, delivered: 5, lost: 5, duplicates: 2, received: 7, outOfOrder: 0 });
    expect(c.track.bits).not.toBeNull();
    expect(identityFailures(a)).toEqual(['lost 5', 'duplicates 2']);
  });

  it('bench identity - reordering by the server is counted, and so is a payload of another topic', () => {
    const a0 = conn(0);
    const b1 = conn(1);
    const ledger = begin(2, [a0, b1]);
    deliver(ledger, a0, 2, 0, 1, 1);
    deliver(ledger, a0, 2, 0, 0, 0);
    deliver(ledger, b1, 2, 1, 0, 0);
    deliver(ledger, b1, 2, 0, 1, 1);
    deliver(ledger, b1, 2, 1, 1, 1);
    ledger.expect(allAccepted(2, 2));
    const a = ledger.account([a0, b1]);
    expect(a).toMatchObject({ expected: 4, delivered: 4, lost: 0, outOfOrder: 1, wrongTopic: 1, received: 5 });
    expect(identityFailures(a)).toEqual(['out of order 1', 'wrong topic 1']);
  });

  it('bench identity - late frames of an earlier step never count in the next', () => {
    const cs = conns([0, 0]);
    const ledger = begin(1, cs);
    for (const c of cs) deliver(ledger, c, 1, 0, 0, 0);
    ledger.begin(2, cs, (c) => c.open);
    // Step 1's sequence 1 arrives late, and would fill step 2's expectation of sequence 1 if steps were not told apart.
    for (const c of cs) expect(deliver(ledger, c, 1, 0, 1, 1)).toBe(-1);
    for (const c of cs) deliver(ledger, c, 2, 0, 0, 0);
    ledger.expect(allAccepted(1, 2));
    const a = ledger.account(cs);
    expect(a).toMatchObject({ expected: 4, delivered: 2, lost: 2, received: 2, duplicates: 0 });
    expect(a.stray.earlierStep).toBe(2);
    expect(identityFailures(a)).toEqual(['lost 2']);
  });

  it('bench identity - deliveries of refused, unanswered or never-sent publishes are counted apart, never as delivered', () => {
    const c = conn(0);
    const ledger = begin(1, [c]);
    for (const s of [0, 1, 2, 3, 4, 5]) deliver(ledger, c, 1, 0, s, 0);
    // 1 was refused (503), 3 got no answer, 5 was never sent (the publisher sent 0 … 4).
    ledger.expect({ sentByTopic: [5], refused: [0, 1], unconfirmed: [0, 3] });
    const a = ledger.account([c]);
    expect(a).toMatchObject({ expected: 3, delivered: 3, lost: 0 });
    expect(a.stray).toEqual({ earlierStep: 0, untagged: 0, neverSent: 1, refused: 1, unconfirmed: 1 });
    expect(identityFailures(a)).toEqual(['never sent 1', 'delivered though refused 1']);
  });

  it('bench identity - the same through the bitmap, while a gap is open', () => {
    const c = conn(0);
    const ledger = begin(1, [c]);
    for (const s of [0, 2, 3, 4, 6]) deliver(ledger, c, 1, 0, s, 0);
    ledger.expect({ sentByTopic: [5], refused: [0, 2], unconfirmed: [0, 4] });
    const a = ledger.account([c]);
    // Accepted: 0, 1, 3 (of 0 … 4); received of them: 0, 3.
    expect(a).toMatchObject({ expected: 3, delivered: 2, lost: 1 });
    expect(a.stray).toMatchObject({ neverSent: 1, refused: 1, unconfirmed: 1 });
  });

  it('bench identity - a 4008 excuses the loss of the connections it shed, and only theirs', () => {
    const [shed, dropped, fine] = [conn(0), conn(0), conn(0)];
    const cs = [shed, dropped, fine];
    const ledger = begin(1, cs);
    for (let s = 0; s < 10; s++) deliver(ledger, fine, 1, 0, s, 0);
    for (let s = 0; s < 4; s++) deliver(ledger, shed, 1, 0, s, 0);
    ledger.closed(shed, 4008);
    for (let s = 0; s < 7; s++) deliver(ledger, dropped, 1, 0, s, 0);
    ledger.closed(dropped, 1006);
    ledger.expect(allAccepted(1, 10));
    const a = ledger.account(cs);
    expect(a).toMatchObject({ expected: 30, delivered: 21, lost: 9, shed: { connections: 1, lost: 6 } });
    expect(identityFailures(a)).toEqual(['lost 3 (besides 6 on 1 connection(s) shed with 4008)']);
  });

  it('bench identity - a connection closed before the step began is not expected to receive', () => {
    const [open, closed] = [conn(0), conn(0)];
    closed.open = false;
    const cs = [open, closed];
    const ledger = begin(1, cs);
    deliver(ledger, open, 1, 0, 0, 0);
    ledger.expect(allAccepted(1, 1));
    expect(ledger.account(cs)).toMatchObject({ subscribers: 1, expected: 1, delivered: 1, lost: 0 });
  });

  it('bench identity - frames without a tag are unidentified, and nothing is expected before the publisher answered', () => {
    const c = conn(0);
    const ledger = begin(1, [c]);
    const junk = Buffer.from('{"type":"message","topic":"bench.t0","data":{"hello":1},"ts":1}');
    expect(ledger.deliver(c, junk, 0, junk.length)).toBe(-1);
    const before = ledger.account([c]);
    expect([before.expected, before.delivered, before.lost]).toEqual([null, null, null]);
    ledger.expect(allAccepted(1, 0));
    const a = ledger.account([c]);
    expect(a).toMatchObject({ expected: 0, delivered: 0, lost: 0, stray: { untagged: 1 } });
    expect(identityFailures(a)).toEqual(['unidentified 1']);
  });

  it('bench identity - sums workers, and cannot check a results file that counted frames', () => {
    const parts = [0, 1].map((w) => {
      const c = conn(0);
      const ledger = begin(1, [c]);
      deliver(ledger, c, 1, 0, 0, 0);
      if (w === 1) deliver(ledger, c, 1, 0, 0, 0);
      ledger.expect(allAccepted(1, 2));
      return ledger.account([c]);
    });
    expect(sumAccounts(parts)).toMatchObject({ subscribers: 2, expected: 4, delivered: 2, lost: 2, duplicates: 1, received: 3 });
    expect(identityFailures({ expected: 10, delivered: 10, lost: 0 })).toBeNull();
  });
});

/** A Herald delivery frame of a history topic: the tagged payload and the offset after it. */
function historyFrame(step: number, seq: number, offset: number): Buffer {
  return Buffer.from(`{"type":"message","topic":"bench.hist.0","data":${payload(1000 + seq, step, 0, seq, 0, 100)},"ts":1767225600123,"offset":${offset}}`);
}

describe('bench identity - offsets of history topics', () => {
  it('bench identity - reads the offset at the end of a history frame, and none from other frames', () => {
    const buf = Buffer.from(`xx${historyFrame(1, 0, 9007199254740).toString()}yy`);
    expect(readOffset(buf, 2, buf.length - 2)).toBe(9007199254740);
    for (const text of [frame(1, 0, 0).toString(), payload(1, 1, 0, 0, 0, 100), `42["m",${payload(1, 1, 0, 0, 0, 100)}]`, '{"offset":5}', ',"offset":}', '"offset":12}']) {
      const b = Buffer.from(text);
      expect(readOffset(b, 0, b.length), text).toBe(-1);
    }
  });

  it('bench identity - offsets must follow on from the position, across steps; skips, repeats and missing ones are failures', () => {
    const c: Conn = { ...conn(0), offset: 41 };
    let ledger = begin(1, [c]);
    const send = (seq: number, offset: number) => {
      const buf = offset < 0 ? frame(ledger.step, 0, seq) : historyFrame(ledger.step, seq, offset);
      ledger.deliver(c, buf, 0, buf.length);
    };
    send(0, 42);
    send(1, 43);
    ledger.expect(allAccepted(1, 2));
    expect(ledger.account([c]).offsets).toEqual({ frames: 2, gaps: 0, backwards: 0, missing: 0 });
    expect(identityFailures(ledger.account([c]))).toEqual([]);
    // The next step goes on from 43, whatever its own sequences.
    ledger = begin(2, [c]);
    send(0, 45); // 44 skipped
    send(1, 45); // again
    send(2, 46);
    send(3, -1); // no offset on a connection that had one
    ledger.expect(allAccepted(1, 4));
    const a = ledger.account([c]);
    expect(a.offsets).toEqual({ frames: 3, gaps: 1, backwards: 1, missing: 1 });
    expect(identityFailures(a)).toEqual(['offsets skipped 1', 'offsets went backwards 1', 'frames without an offset 1']);
    expect(sumAccounts([a, a]).offsets).toEqual({ frames: 6, gaps: 2, backwards: 2, missing: 2 });
  });

  it('bench identity - a connection without a position checks nothing, until a frame gives it one', () => {
    const plain = conn(0);
    const ledger = begin(1, [plain]);
    ledger.deliver(plain, frame(1, 0, 0), 0, frame(1, 0, 0).length);
    expect(ledger.account([plain]).offsets).toEqual({ frames: 0, gaps: 0, backwards: 0, missing: 0 });
    const f = historyFrame(1, 1, 7);
    ledger.deliver(plain, f, 0, f.length);
    const g = historyFrame(1, 2, 9);
    ledger.deliver(plain, g, 0, g.length);
    expect(ledger.account([plain]).offsets).toEqual({ frames: 2, gaps: 1, backwards: 0, missing: 0 });
  });
});
