/**
 * Every delivery identified: which step, topic and sequence number a payload
 * carries, what each connection saw of them, and the step's accounting.
 *
 * The publisher tags every payload, in this order, before its padding:
 *
 *   {"t":<send time, µs>,"e":<step>,"k":<topic index>,"s":<sequence within the topic and step>,"f":<floor>,"p":"…"}
 *
 * Sequences start at 0 for every topic in every step, so a connection of
 * topic k expects exactly the sequences the publisher sent on k during the
 * step. Each connection keeps only the next sequence it expects, the highest
 * it saw, and (only while something is missing below the highest) a bitmap of
 * the sequences it saw: O(1) per delivery, and no memory per delivery in the
 * ordinary, in-order case. The load generator must not become the bottleneck
 * it measures.
 *
 * Order: the publisher keeps several requests in flight over several HTTP
 * connections, so two messages sent close together may reach the server in
 * either order, and the server's order is the one it promises to keep. What
 * the publisher knows for sure is that a message answered before another was
 * sent was published before it. The floor f says so: every sequence below f
 * on this topic had been answered when this message was sent. A delivery of a
 * sequence below the highest floor the connection has already seen arrived
 * after a message that was published after it: out of order, whatever the
 * concurrency of the publisher.
 *
 * A step's accounting, per connection subscribed when the step began:
 *   expected   the sequences the publisher sent on its topic and the server accepted (2xx)
 *   delivered  distinct accepted sequences received (a duplicate never counts twice)
 *   lost       expected − delivered, never clamped
 *   duplicates a sequence received again; outOfOrder: received after a message published after it (see Order)
 *   wrongTopic a payload published to another topic than the connection's
 * and frames that are no delivery of this step (`stray`): tagged with another
 * step (late from an earlier one), without a readable tag, with a sequence the
 * publisher never sent, of a message the server refused (non-2xx), or of one
 * whose publish got no answer (the publisher could not know).
 *
 * Offsets (history topics, docs/protocol.md "History and recovery"): a
 * delivery frame that ends in `,"offset":<n>}` must carry the offset after
 * the previous one the connection saw, whatever the step: the one its
 * subscribe's ack gave as the position (or its `since`, when the ack said
 * recovered), then every frame's in turn. A frame with a smaller or equal
 * offset went backwards, a larger one skipped; a frame without an offset on a
 * connection that has one is unsequenced. Counted per step in `offsets`.
 */

const T = Buffer.from('{"t":');
const E = Buffer.from(',"e":');
const K = Buffer.from(',"k":');
const S = Buffer.from(',"s":');
const F = Buffer.from(',"f":');
/** A bigger sequence is no payload of ours: it would make a bitmap of more than 512 KiB. */
export const MAX_SEQ = 1 << 22;
const PAD = 'x'.repeat(65536);
const OFFSET = Buffer.from(',"offset":');

/**
 * The payload of one message: its tag, padded to `size` bytes (longer when the tag alone is longer).
 * @param {number} t @param {number} step @param {number} topic @param {number} seq
 * @param {number} floor every sequence below it on this topic was answered before this one was sent
 * @param {number} size
 */
export function payload(t, step, topic, seq, floor, size) {
  const head = `{"t":${t},"e":${step},"k":${topic},"s":${seq},"f":${floor},"p":"`;
  return `${head}${PAD.slice(0, Math.max(0, size - head.length - 2))}"}`;
}

/** @typedef {{ t: number, e: number, k: number, s: number, f: number }} Tag */

/** @param {Buffer} buf @param {number} i @param {Buffer} lit */
function at(buf, i, lit, end) {
  if (i + lit.length > end) return false;
  for (let j = 0; j < lit.length; j++) if (buf[i + j] !== lit[j]) return false;
  return true;
}

let numEnd = 0;
/** Reads the decimal digits at `i` (sets numEnd); -1 when there are none. */
function digits(buf, i, end) {
  let v = 0;
  let n = 0;
  for (; i < end && n < 16; i++, n++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  numEnd = i;
  return n === 0 ? -1 : v;
}

/**
 * Reads the tag of the payload inside a delivery frame (Herald's
 * `{"type":"message",…,"data":{"t":…}`, Socket.IO's `42["m",{"t":…}]`, or
 * the bare payload) by a byte scan, without JSON parsing.
 * @param {Buffer} buf
 * @param {Tag} out filled in
 * @returns {boolean} false when the frame carries no complete tag
 */
export function readTag(buf, start, end, out) {
  let i = buf.indexOf(T, start);
  if (i < 0 || i >= end) return false;
  out.t = digits(buf, i + T.length, end);
  if (out.t < 0 || !at(buf, (i = numEnd), E, end)) return false;
  out.e = digits(buf, i + E.length, end);
  if (out.e < 0 || !at(buf, (i = numEnd), K, end)) return false;
  out.k = digits(buf, i + K.length, end);
  if (out.k < 0 || !at(buf, (i = numEnd), S, end)) return false;
  out.s = digits(buf, i + S.length, end);
  if (out.s < 0 || out.s >= MAX_SEQ || !at(buf, (i = numEnd), F, end)) return false;
  out.f = digits(buf, i + F.length, end);
  return out.f >= 0;
}

/**
 * The offset of a Herald delivery frame of a history topic, which ends in
 * `,"offset":<n>}` (src/protocol/frames.ts), read backwards from its end; -1
 * when the frame has none (other topics, other servers).
 * @param {Buffer} buf
 */
export function readOffset(buf, start, end) {
  let i = end - 1;
  if (i <= start || buf[i] !== 0x7d /* } */) return -1;
  let v = 0;
  let scale = 1;
  let n = 0;
  for (i--; i > start && n < 16; i--, n++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) break;
    v += c * scale;
    scale *= 10;
  }
  if (n === 0) return -1;
  const at0 = i + 1 - OFFSET.length;
  if (at0 < start) return -1;
  for (let j = 0; j < OFFSET.length; j++) if (buf[at0 + j] !== OFFSET[j]) return -1;
  return v;
}

export const FRESH = 0;
/** new, but a message published after it (by the floor) arrived first */
export const FRESH_OUT_OF_ORDER = 1;
export const DUPLICATE = 2;

/** What one connection saw of its topic's sequences in the current step. */
export class SeqTracker {
  constructor() {
    /** every sequence below this was seen */
    this.next = 0;
    /** one more than the highest sequence seen */
    this.high = 0;
    /** distinct sequences seen */
    this.unique = 0;
    /** highest floor seen: every sequence below it was published before a message already received */
    this.floor = 0;
    /** @type {Uint32Array | null} sequences seen at or above `next`, by absolute number; only while there is a gap */
    this.bits = null;
  }

  reset() {
    this.next = 0;
    this.high = 0;
    this.unique = 0;
    this.floor = 0;
    this.bits = null;
  }

  /** @param {number} s */
  has(s) {
    if (s < this.next) return true;
    const b = this.bits;
    return b !== null && s >>> 5 < b.length && (b[s >>> 5] & (1 << (s & 31))) !== 0;
  }

  /**
   * Records sequence `s`, whose message carried floor `f`.
   * @returns {0 | 1 | 2} FRESH, FRESH_OUT_OF_ORDER or DUPLICATE
   */
  see(s, f) {
    if (this.has(s)) return DUPLICATE;
    this.unique++;
    const reordered = s < this.floor;
    if (f > this.floor) this.floor = f;
    if (s >= this.high) this.high = s + 1;
    if (s === this.next && this.bits === null) {
      this.next++;
      return FRESH;
    }
    let b = this.bits;
    const word = s >>> 5;
    if (b === null || word >= b.length) {
      const grown = new Uint32Array(Math.max(word + 1, b === null ? 4 : b.length * 2));
      if (b !== null) grown.set(b);
      b = this.bits = grown;
    }
    b[word] |= 1 << (s & 31);
    while (this.next < this.high && (b[this.next >>> 5] & (1 << (this.next & 31))) !== 0) this.next++;
    // The gap is closed: back to the bitmap-free path.
    if (this.next === this.high) this.bits = null;
    return reordered ? FRESH_OUT_OF_ORDER : FRESH;
  }

  /**
   * Calls fn(s) for every sequence seen at or above `next` (below it, all were seen).
   * @param {(s: number) => void} fn
   */
  eachAhead(fn) {
    const b = this.bits;
    if (b === null) return;
    for (let s = this.next; s < this.high; s++) if ((b[s >>> 5] & (1 << (s & 31))) !== 0) fn(s);
  }
}

const ACCEPTED = 0;
const REFUSED = 1;
const UNCONFIRMED = 2;

/**
 * @typedef {object} Expectation  what the publisher sent in a step, from its answers
 * @property {number[]} sentByTopic   sequences 0 … n−1 were sent on topic k
 * @property {number[]} refused       flat [topic, seq, topic, seq, …]: answered, but not with 2xx
 * @property {number[]} unconfirmed   flat pairs: no answer (timeout, connection closed)
 */

/**
 * @typedef {object} Tracked  what the ledger needs of a connection
 * @property {number} topic
 * @property {SeqTracker} track
 * @property {boolean} inStep      subscribed when the step began
 * @property {number} closedWith   close code seen during the step, 0 if none
 * @property {boolean} got         received a delivery of this step
 * @property {number} [offset]     the last offset of its topic it has (history topics), -1 or absent when none
 */

/** One load-generator worker's accounting of the current step. */
export class Ledger {
  constructor() {
    this.step = -1;
    /** @type {Tag} */
    this.tag = { t: 0, e: 0, k: 0, s: 0, f: 0 };
    this.zero();
    /** @type {{ sent: number[], status: (Uint8Array | null)[], prefix: ({ acc: Int32Array, ref: Int32Array } | null)[] } | null} */
    this.expectation = null;
  }

  zero() {
    this.received = 0;
    this.fresh = 0;
    this.duplicates = 0;
    this.outOfOrder = 0;
    this.wrongTopic = 0;
    this.earlierStep = 0;
    this.untagged = 0;
    this.covered = 0;
    this.subscribers = 0;
    /** history topics: frames carrying an offset, and those not following the connection's previous one */
    this.offsetFrames = 0;
    this.offsetGaps = 0;
    this.offsetBackwards = 0;
    this.offsetMissing = 0;
  }

  /**
   * A new step: counters and every connection's record start afresh; frames
   * tagged with any other step never count in this one.
   * @param {number} step
   * @param {Iterable<Tracked>} conns
   * @param {(conn: Tracked) => boolean} subscribed
   */
  begin(step, conns, subscribed) {
    this.step = step;
    this.zero();
    this.expectation = null;
    for (const c of conns) {
      c.track.reset();
      c.inStep = subscribed(c);
      c.closedWith = 0;
      c.got = false;
      if (c.inStep) this.subscribers++;
    }
  }

  /**
   * One delivery frame on `conn`.
   * @returns {number} the send time (µs) when it is a first receipt of this step's message on the right topic, else -1
   */
  deliver(conn, buf, start, end) {
    // Offsets follow the connection's stream whatever the step a frame belongs to.
    const offset = readOffset(buf, start, end);
    const previous = conn.offset ?? -1;
    if (offset >= 0) {
      this.offsetFrames++;
      if (previous >= 0 && offset !== previous + 1) {
        if (offset <= previous) this.offsetBackwards++;
        else this.offsetGaps++;
      }
      conn.offset = offset;
    } else if (previous >= 0) {
      this.offsetMissing++;
    }
    const tag = this.tag;
    if (!readTag(buf, start, end, tag)) {
      this.untagged++;
      return -1;
    }
    // A connection subscribed after the step began (none does in this harness) is not accounted: its frames are stray too.
    if (tag.e !== this.step || !conn.inStep) {
      this.earlierStep++;
      return -1;
    }
    this.received++;
    if (tag.k !== conn.topic) {
      this.wrongTopic++;
      return -1;
    }
    const seen = conn.track.see(tag.s, tag.f);
    if (seen === DUPLICATE) {
      this.duplicates++;
      return -1;
    }
    if (seen === FRESH_OUT_OF_ORDER) this.outOfOrder++;
    this.fresh++;
    if (!conn.got) {
      conn.got = true;
      this.covered++;
    }
    return tag.t;
  }

  /** @param {Tracked} conn @param {number} code */
  closed(conn, code) {
    if (conn.inStep && conn.closedWith === 0) conn.closedWith = code;
  }

  /** @param {Expectation} x */
  expect(x) {
    const sent = x.sentByTopic;
    /** @type {(Uint8Array | null)[]} */
    const status = sent.map(() => null);
    const mark = (pairs, value) => {
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        const k = pairs[i];
        const s = pairs[i + 1];
        if (k >= 0 && k < sent.length && s >= 0 && s < sent[k]) (status[k] ??= new Uint8Array(sent[k]))[s] = value;
      }
    };
    mark(x.refused, REFUSED);
    mark(x.unconfirmed, UNCONFIRMED);
    // Per topic with a refused or unconfirmed sequence: how many of 0 … n−1 were accepted, refused (prefix counts).
    const prefix = status.map((st) => {
      if (st === null) return null;
      const acc = new Int32Array(st.length + 1);
      const ref = new Int32Array(st.length + 1);
      for (let s = 0; s < st.length; s++) {
        acc[s + 1] = acc[s] + (st[s] === ACCEPTED ? 1 : 0);
        ref[s + 1] = ref[s] + (st[s] === REFUSED ? 1 : 0);
      }
      return { acc, ref };
    });
    this.expectation = { sent, status, prefix };
  }

  /**
   * The step's accounting so far; expected, delivered and lost are null until
   * the publisher's answers are known (expect()).
   * @param {Iterable<Tracked>} conns
   */
  account(conns) {
    const out = {
      subscribers: this.subscribers,
      received: this.received,
      fresh: this.fresh,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      wrongTopic: this.wrongTopic,
      covered: this.covered,
      expected: /** @type {number | null} */ (null),
      delivered: /** @type {number | null} */ (null),
      lost: /** @type {number | null} */ (null),
      shed: { connections: 0, lost: 0 },
      stray: { earlierStep: this.earlierStep, untagged: this.untagged, neverSent: 0, refused: 0, unconfirmed: 0 },
      offsets: { frames: this.offsetFrames, gaps: this.offsetGaps, backwards: this.offsetBackwards, missing: this.offsetMissing },
    };
    const x = this.expectation;
    if (x === null) return out;
    let expected = 0;
    let delivered = 0;
    for (const c of conns) {
      if (!c.inStep) continue;
      const sent = x.sent[c.topic] ?? 0;
      const st = x.status[c.topic] ?? null;
      const pre = x.prefix[c.topic] ?? null;
      const tr = c.track;
      // Sequences below tr.next were all seen: counted from the prefix sums, not one by one.
      const below = Math.min(tr.next, sent);
      let got = pre === null ? below : pre.acc[below];
      if (pre !== null) {
        out.stray.refused += pre.ref[below];
        out.stray.unconfirmed += below - pre.acc[below] - pre.ref[below];
      }
      if (tr.next > sent) out.stray.neverSent += tr.next - sent;
      tr.eachAhead((s) => {
        if (s >= sent) out.stray.neverSent++;
        else if (st === null || st[s] === ACCEPTED) got++;
        else if (st[s] === REFUSED) out.stray.refused++;
        else out.stray.unconfirmed++;
      });
      const want = pre === null ? sent : pre.acc[sent];
      expected += want;
      delivered += got;
      if (c.closedWith === 4008) {
        out.shed.connections++;
        out.shed.lost += want - got;
      }
    }
    out.expected = expected;
    out.delivered = delivered;
    out.lost = expected - delivered;
    return out;
  }

  /**
   * How many of the step's messages on `topic` a subscriber must receive (the accepted ones); null before expect().
   * @param {number} topic
   */
  wanted(topic) {
    const x = this.expectation;
    if (x === null) return null;
    const pre = x.prefix[topic] ?? null;
    const sent = x.sent[topic] ?? 0;
    return pre === null ? sent : pre.acc[sent];
  }
}

/**
 * Sums the accountings of several workers.
 * @param {ReturnType<Ledger['account']>[]} parts
 */
export function sumAccounts(parts) {
  const out = {
    subscribers: 0, received: 0, fresh: 0, duplicates: 0, outOfOrder: 0, wrongTopic: 0, covered: 0,
    expected: /** @type {number | null} */ (0), delivered: /** @type {number | null} */ (0), lost: /** @type {number | null} */ (0),
    shed: { connections: 0, lost: 0 },
    stray: { earlierStep: 0, untagged: 0, neverSent: 0, refused: 0, unconfirmed: 0 },
    offsets: { frames: 0, gaps: 0, backwards: 0, missing: 0 },
  };
  for (const p of parts) {
    for (const k of ['subscribers', 'received', 'fresh', 'duplicates', 'outOfOrder', 'wrongTopic', 'covered']) out[k] += p[k];
    for (const k of ['expected', 'delivered', 'lost']) out[k] = out[k] === null || p[k] === null ? null : out[k] + p[k];
    out.shed.connections += p.shed.connections;
    out.shed.lost += p.shed.lost;
    for (const k of Object.keys(out.stray)) out.stray[k] += p.stray[k];
    for (const k of Object.keys(out.offsets)) out.offsets[k] += p.offsets?.[k] ?? 0;
  }
  return out;
}

/**
 * What fails the zero-loss budget in a step: loss beyond the connections shed
 * with 4008, duplicates, reordering, wrong topic, deliveries of messages
 * that were never sent, never identified, or refused, and on history topics
 * offsets that skip, go backwards or are missing. Empty when clean.
 * Results files of version 1 (frame counts only) yield null: not checkable.
 * @param {any} step
 * @returns {string[] | null}
 */
export function identityFailures(step) {
  if (step.duplicates === undefined) return null;
  const out = [];
  const shedLost = step.shed?.lost ?? 0;
  const unexcused = step.lost - shedLost;
  if (unexcused !== 0) out.push(`lost ${unexcused}${shedLost ? ` (besides ${shedLost} on ${step.shed.connections} connection(s) shed with 4008)` : ''}`);
  if (step.duplicates) out.push(`duplicates ${step.duplicates}`);
  if (step.outOfOrder) out.push(`out of order ${step.outOfOrder}`);
  if (step.wrongTopic) out.push(`wrong topic ${step.wrongTopic}`);
  if (step.stray?.neverSent) out.push(`never sent ${step.stray.neverSent}`);
  if (step.stray?.untagged) out.push(`unidentified ${step.stray.untagged}`);
  if (step.stray?.refused) out.push(`delivered though refused ${step.stray.refused}`);
  if (step.offsets?.gaps) out.push(`offsets skipped ${step.offsets.gaps}`);
  if (step.offsets?.backwards) out.push(`offsets went backwards ${step.offsets.backwards}`);
  if (step.offsets?.missing) out.push(`frames without an offset ${step.offsets.missing}`);
  return out;
}
