/**
 * The client protocol, live: one connection per case sends a sequence of
 * frames, one at a time, and each reply is checked against what
 * docs/protocol.md says about that frame for that connection's grants and
 * state — including that a published message comes back intact to its
 * subscriber, and that `auth` with a token the contract refuses is refused.
 */
import fc from 'fast-check';
import { SECRET } from '../../helpers/tokens.js';
import { hostileDataText, invalidTopic, validTopic } from './arbitraries.js';
import { LIMITS, REPLY_FRAME_TYPES, referenceMatch, referenceTopicValid } from './contract.js';
import { ANY_ID, expectFrame, frameBytes, sinceText } from './frame-model.js';
import { canonical, isUtf8, nestedText } from './json.js';
import { hostileToken, type Live } from './live.js';
import { Opcode, encodeFrame, textFrame } from './wire.js';
import { openRaw } from './ws-run.js';
import { preview } from './ws-cases.js';
import { signText } from './token-model.js';

/** Placeholder for the connection's own topic segment, replaced when the case runs. */
const OWN = '$C';

export type AuthKind = 'valid' | 'exp 1e400' | 'exp -1' | 'exp "123"' | 'exp 1e20' | 'expired' | 'other sub' | 'bad signature' | 'header 5000 deep' | 'payload 5000 deep' | 'garbage';

export type ProtocolFrame = { kind: 'frame'; text: string; binary: boolean } | { kind: 'auth'; token: AuthKind; id: number };

export interface ProtocolCase {
  frames: ProtocolFrame[];
}

const topicSlot = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(`p.${OWN}.a`, `p.${OWN}.a`, `p.${OWN}.a`, `p.${OWN}.a`, `p.${OWN}.b.c`, `p.${OWN}.s1`, `p.${OWN}.s2`, `p.${OWN}.s3`, `p.${OWN}.s4`, `p.${OWN}.s5`, `p.${OWN}.s6`, `p.${OWN}.s7`, `p.${OWN}.s8`) },
  { weight: 2, arbitrary: fc.constantFrom('p.shared.x', 'p.shared.y', 'q.forbidden', `p.${OWN}`, 'p') },
  { weight: 1, arbitrary: invalidTopic },
  { weight: 1, arbitrary: validTopic },
);

const idText = fc.oneof(
  { weight: 6, arbitrary: fc.integer().map(String) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.constantFrom('1e400', '-0', 'null', '{}', '[1]', 'true', JSON.stringify('😀'.repeat(128)), JSON.stringify('😀'.repeat(129)), JSON.stringify('x'.repeat(129))) },
);

const frame = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('subscribe', 'unsubscribe'), topicSlot, idText).map(([type, topic, id]) => `{"type":"${type}","topic":${JSON.stringify(topic)},"id":${id}}`) },
  { weight: 1, arbitrary: fc.tuple(topicSlot, idText, sinceText).map(([topic, id, since]) => `{"type":"subscribe","topic":${JSON.stringify(topic)},"id":${id},"since":${since}}`) },
  { weight: 4, arbitrary: fc.tuple(topicSlot, hostileDataText, idText).map(([topic, data, id]) => `{"type":"publish","topic":${JSON.stringify(topic)},"id":${id},"data":${data}}`) },
  { weight: 1, arbitrary: idText.map((id) => `{"type":"ping","id":${id}}`) },
  { weight: 2, arbitrary: frameBytes.filter(({ bytes, binary }) => binary || isUtf8(bytes)).map(({ bytes, binary }) => ({ text: Buffer.from(bytes).toString(binary ? 'latin1' : 'utf8'), binary })) },
);

const authKind = fc.constantFrom<AuthKind>('valid', 'valid', 'exp 1e400', 'exp -1', 'exp "123"', 'exp 1e20', 'expired', 'other sub', 'bad signature', 'header 5000 deep', 'payload 5000 deep', 'garbage');

export function protocolCase(maxPayload: number): fc.Arbitrary<ProtocolCase> {
  const one = fc.oneof(
    { weight: 9, arbitrary: frame.map((f): ProtocolFrame => (typeof f === 'string' ? { kind: 'frame', text: f, binary: false } : { kind: 'frame', ...f })) },
    { weight: 1, arbitrary: fc.tuple(authKind, fc.nat()).map(([token, id]): ProtocolFrame => ({ kind: 'auth', token, id })) },
  );
  // Each case starts subscribed to one of its own topics, so that its publishes come back to it.
  const first: ProtocolFrame = { kind: 'frame', text: `{"type":"subscribe","topic":"p.${OWN}.a","id":"first"}`, binary: false };
  return fc.record({ frames: fc.array(one, { minLength: 1, maxLength: 24 }) }).map((c) => ({
    frames: [first, ...c.frames.filter((f) => f.kind === 'auth' || Buffer.byteLength(f.text, f.binary ? 'latin1' : 'utf8') <= maxPayload - 64)],
  }));
}

/** Hand-written cases every run ends with (issue 8's findings through the real client path). */
export function protocolCorpus(): ProtocolCase[] {
  const pub = (data: string, id: number): ProtocolFrame => ({ kind: 'frame', text: `{"type":"publish","topic":"p.${OWN}.a","id":${id},"data":${data}}`, binary: false });
  const sub: ProtocolFrame = { kind: 'frame', text: `{"type":"subscribe","topic":"p.${OWN}.a","id":0}`, binary: false };
  return [
    { frames: [sub, pub(nestedText(LIMITS.dataDepth), 1), pub(nestedText(LIMITS.dataDepth + 1), 2), pub(nestedText(LIMITS.dataDepth, 'object'), 3), pub(nestedText(LIMITS.dataDepth + 1, 'mixed'), 4)] },
    { frames: [sub, pub(nestedText(5000), 5)] },
    { frames: [sub, pub('{"__proto__":{"x":1},"constructor":{"prototype":{}},"n":[1e400,-0,"\\ud800"]}', 6)] },
    { frames: [{ kind: 'auth', token: 'exp 1e400', id: 7 }, { kind: 'auth', token: 'exp 1e20', id: 8 }, { kind: 'auth', token: 'valid', id: 9 }] },
    { frames: [{ kind: 'frame', text: `{"type":"ping","id":${JSON.stringify('😀'.repeat(128))}}`, binary: false }] },
  ];
}

const now = (): number => Math.floor(Date.now() / 1000);

function authToken(kind: AuthKind, sub: string, topics: string[], publish: string[]): string {
  const claims = (exp: string, who = sub): string => `{"sub":${JSON.stringify(who)},"topics":${JSON.stringify(topics)},"publish":${JSON.stringify(publish)},"exp":${exp}}`;
  switch (kind) {
    case 'valid':
      return signText('{"alg":"HS256"}', claims(String(now() + 3600)), SECRET);
    case 'exp 1e400':
      return signText('{"alg":"HS256"}', claims('1e400'), SECRET);
    case 'exp -1':
      return signText('{"alg":"HS256"}', claims('-1'), SECRET);
    case 'exp "123"':
      return signText('{"alg":"HS256"}', claims('"123"'), SECRET);
    case 'exp 1e20':
      return signText('{"alg":"HS256"}', claims('1e20'), SECRET);
    case 'expired':
      return signText('{"alg":"HS256"}', claims(String(now() - 60)), SECRET);
    case 'other sub':
      return signText('{"alg":"HS256"}', claims(String(now() + 3600), `${sub}-other`), SECRET);
    case 'bad signature':
      return signText('{"alg":"HS256"}', claims(String(now() + 3600)), `${SECRET}-wrong`);
    case 'header 5000 deep':
      return signText(`{"alg":"HS256","x":${nestedText(5000)}}`, claims(String(now() + 3600)), SECRET);
    case 'payload 5000 deep':
      return signText('{"alg":"HS256"}', `{"sub":${JSON.stringify(sub)},"exp":${now() + 3600},"x":${nestedText(5000)}}`, SECRET);
    case 'garbage':
      return 'not.a.token';
  }
}

export function describeProtocolCase(c: ProtocolCase): string {
  return c.frames.map((f) => (f.kind === 'auth' ? `auth(${f.token})` : `${f.binary ? 'binary ' : ''}${preview(Buffer.from(f.text), 120)}`)).join(' | ');
}

type Reply = Record<string, unknown>;

/** Runs one case; returns its outcome label. */
export async function runProtocolCase(live: Live, c: ProtocolCase, caseId: string): Promise<string> {
  const own = `c${caseId.replace(/\D/g, '')}${Math.random().toString(36).slice(2, 8)}`;
  const sub = 'fuzzer';
  const topics = [`p.${own}.>`, 'p.shared.*'];
  const publish = [`p.${own}.>`];
  const conn = await openRaw(live, hostileToken({ sub, topics, publish }));
  const subscribed = new Set<string>();
  let read = 1;
  let delivered = 0;
  let expectedDeliveries = 0;
  const replies: Reply[] = [];
  const take = async (want: (r: Reply) => boolean, timeoutMs: number): Promise<Reply | undefined> => {
    let found: Reply | undefined;
    await conn.until(() => {
      for (; read < conn.frames.length; read++) {
        const f = conn.frames[read]!;
        if (f.opcode !== Opcode.text) continue;
        const r = JSON.parse(f.payload.toString('utf8')) as Reply;
        replies.push(r);
      }
      const at = replies.findIndex(want);
      if (at >= 0) [found] = replies.splice(at, 1);
      return found !== undefined;
    }, timeoutMs);
    return found;
  };
  const isReply = (r: Reply): boolean => REPLY_FRAME_TYPES.has(String(r.type));
  try {
    for (const f of c.frames) {
      if (conn.closed) {
        live.violation(caseId, 'the node closed the connection in the middle of the case');
        return 'closed';
      }
      let expect: { reply: 'ack' | 'pong' | 'error'; codes?: ReadonlySet<string>; id: unknown; deliver?: { topic: string; data: unknown }; unrecovered?: boolean } | undefined;
      let sent: string;
      if (f.kind === 'auth') {
        const token = authToken(f.token, sub, topics, publish);
        sent = `auth(${f.token})`;
        conn.write(textFrame(JSON.stringify({ type: 'auth', token, id: f.id })));
        expect = f.token === 'valid' ? { reply: 'ack', id: f.id } : { reply: 'error', codes: new Set(['token_invalid']), id: f.id };
      } else {
        const text = f.text.split(OWN).join(own);
        sent = preview(Buffer.from(text), 200);
        const bytes = Buffer.from(text, f.binary ? 'latin1' : 'utf8');
        conn.write(f.binary ? encodeFrame({ opcode: Opcode.binary, payload: bytes }) : textFrame(bytes));
        const verdict = expectFrame(bytes, f.binary);
        if (verdict.verdict === 'reject') expect = { reply: 'error', codes: new Set(['bad_request']), id: verdict.id };
        else if (verdict.verdict === 'accept') {
          const id = verdict.id;
          const topic = verdict.topic;
          if (verdict.type === 'ping') expect = { reply: 'pong', id };
          else if (verdict.type === 'auth') expect = { reply: 'error', codes: new Set(['token_invalid']), id };
          else if (!referenceTopicValid(topic!)) expect = { reply: 'error', codes: new Set(['invalid_topic']), id };
          else if (verdict.type === 'unsubscribe') {
            expect = { reply: 'ack', id };
            subscribed.delete(topic!);
          } else if (verdict.type === 'subscribe') {
            if (!topics.some((p) => referenceMatch(p, topic!, sub))) expect = { reply: 'error', codes: new Set(['forbidden']), id };
            else if (!subscribed.has(topic!) && subscribed.size >= live.maxSubscriptions) expect = { reply: 'error', codes: new Set(['too_many_subscriptions']), id };
            else {
              // No topic has history on this node: a `since` is answered {"recovered":false} without an offset.
              expect = { reply: 'ack', id, ...(verdict.since === undefined ? {} : { unrecovered: true }) };
              subscribed.add(topic!);
            }
          } else {
            const codes = new Set<string>();
            if (!publish.some((p) => referenceMatch(p, topic!, sub))) codes.add('forbidden');
            if (Buffer.byteLength(JSON.stringify(verdict.data)) > live.maxMessageSize) codes.add('payload_too_large');
            if (codes.size > 0) expect = { reply: 'error', codes, id };
            else expect = { reply: 'ack', id, ...(subscribed.has(topic!) ? { deliver: { topic: topic!, data: verdict.data } } : {}) };
          }
        }
      }
      const reply = await take(isReply, 5000);
      if (reply === undefined) {
        live.violation(caseId, `no reply within 5 s to ${sent}`);
        return 'no reply';
      }
      live.tally.note(`reply ${reply.type === 'error' ? `error ${String(reply.code)}` : String(reply.type)}`);
      if (expect === undefined) continue;
      const wrong =
        reply.type !== expect.reply ||
        (expect.codes !== undefined && !expect.codes.has(String(reply.code))) ||
        (expect.id !== ANY_ID && canonical(reply.id) !== canonical(expect.id)) ||
        (expect.unrecovered === true && (reply.recovered !== false || 'offset' in reply));
      if (wrong) {
        const wanted = `${expect.reply}${expect.codes === undefined ? '' : ` ${[...expect.codes].join('|')}`}${expect.id === ANY_ID ? '' : ` id ${canonical(expect.id)}`}${expect.unrecovered === true ? ' with "recovered":false and no offset' : ''}`;
        live.violation(caseId, `${sent} → ${JSON.stringify(reply).slice(0, 200)}; the contract says ${wanted}`);
        // The connection's state (grants, subscriptions) may now differ from the model's: judge no further.
        return 'wrong reply';
      }
      if (expect.deliver !== undefined && reply.type === 'ack') {
        expectedDeliveries++;
        const want = canonical(expect.deliver.data);
        const message = await take((r) => r.type === 'message' && r.topic === expect.deliver!.topic, 5000);
        if (message === undefined) live.violation(caseId, `a publish was acknowledged but its subscriber got no message: ${sent}`);
        else {
          delivered++;
          if (canonical(message.data) !== want) live.violation(caseId, `data changed on its way: sent ${want.slice(0, 200)}, delivered ${canonical(message.data).slice(0, 200)}`);
        }
      }
    }
    // Nothing else may arrive: no second reply to any frame, no message that was not published.
    conn.write(textFrame('{"type":"ping","id":"probe-end"}'));
    if ((await take((r) => r.type === 'pong' && r.id === 'probe-end', 5000)) === undefined) live.violation(caseId, 'no pong to the closing ping');
    const extra = replies.filter((r) => r.type !== 'unsubscribed');
    if (extra.length > 0) live.violation(caseId, `unexpected frames: ${JSON.stringify(extra.slice(0, 3)).slice(0, 300)}`);
    if (conn.closed) live.violation(caseId, 'the connection was closed after the case');
    live.tally.note('messages delivered intact', delivered);
    return delivered === expectedDeliveries ? 'ok' : 'lost message';
  } finally {
    conn.destroy();
  }
}
