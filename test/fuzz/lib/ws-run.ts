/** Runs one WebSocket case on a raw TCP connection and checks everything the node sent back. */
import { RawConnection } from './raw.js';
import { closeProblem, hostileToken, serverFrameProblem, type Live } from './live.js';
import { REPLY_FRAME_TYPES } from './contract.js';
import { isUtf8 } from './json.js';
import { Opcode, encodeFrame, encodeRequest, textFrame, upgradeHeaders, type FrameSpec } from './wire.js';
import { legalFrames, sizeFrames, type WsCase } from './ws-cases.js';


const CASE_TIMEOUT_MS = 8000;

/** Opens a WebSocket on a raw socket with a token that may subscribe and publish anywhere; resolves after the welcome. */
export async function openRaw(live: Live, token = hostileToken()): Promise<RawConnection> {
  const conn = await RawConnection.open(live.node.port);
  conn.write(encodeRequest({ target: `/ws?token=${token}`, headers: upgradeHeaders(`127.0.0.1:${live.node.port}`) }));
  await conn.until(() => conn.frames.length > 0 || (conn.httpHead !== undefined && conn.httpHead.status !== 101), CASE_TIMEOUT_MS);
  if (conn.httpHead?.status !== 101 || conn.frames.length === 0) {
    conn.destroy();
    throw new Error(`upgrade failed: ${conn.received.subarray(0, 200).toString()}`);
  }
  return conn;
}

async function writeInPieces(conn: RawConnection, bytes: Buffer, writes: number): Promise<void> {
  if (writes <= 1 || bytes.length < 2) {
    conn.write(bytes);
    return;
  }
  const step = Math.max(1, Math.ceil(bytes.length / writes));
  for (let at = 0; at < bytes.length; at += step) {
    conn.write(bytes.subarray(at, at + step));
    // Let each piece leave as a segment of its own, so the server parses partial frames.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Runs the case; returns the outcome label; records contract violations on `live`. */
export async function runWsCase(live: Live, c: WsCase, caseId: string): Promise<string> {
  const conn = await openRaw(live);
  try {
    return await drive(live, conn, c, caseId);
  } finally {
    conn.destroy();
  }
}

async function drive(live: Live, conn: RawConnection, c: WsCase, caseId: string): Promise<string> {
  const specs: FrameSpec[] = [];
  let messages = 0;
  let pings = 0;
  for (const action of c.legal) {
    const part = legalFrames(action);
    specs.push(...part.frames);
    messages += part.messages;
    pings += part.pings;
  }
  const t = c.terminal;
  const probeId = `probe-${caseId}`;
  const sizeOk = t?.kind === 'size' && t.size <= live.maxPayload;
  if (t?.kind === 'size') specs.push(...sizeFrames(t.size, t.pieces, `size-${caseId}`));
  if (t?.kind === 'violation') specs.push(...t.frames);
  let sentClose: number | undefined;
  if (t?.kind === 'close') {
    specs.push({ opcode: Opcode.close, payload: t.code === undefined ? t.reason : Buffer.concat([Buffer.from([t.code >> 8, t.code & 0xff]), Buffer.from(t.reason)]) });
    sentClose = t.code;
  }
  let bytes = Buffer.concat(specs.map((spec) => encodeFrame(spec)));
  if (t?.kind === 'truncated') bytes = Buffer.concat([bytes, Buffer.from(t.bytes)]);
  // The probe: a valid ping after everything, answered only if the node still reads this connection in step.
  else bytes = Buffer.concat([bytes, textFrame(`{"type":"ping","id":"${probeId}"}`)]);
  await writeInPieces(conn, bytes, c.writes);
  if (t?.kind === 'truncated') conn.end();

  const expectReplies = messages + (sizeOk ? 1 : 0) + 1;
  const textFrames = (): string[] => conn.frames.slice(1).filter((f) => f.opcode === Opcode.text).map((f) => f.payload.toString('utf8'));
  const replies = (): number => textFrames().filter((text) => { try { return REPLY_FRAME_TYPES.has((JSON.parse(text) as { type: string }).type); } catch { return false; } }).length;
  const probeAnswered = (): boolean => textFrames().some((text) => text.includes(`"${probeId}"`));
  const inStep = t === undefined || sizeOk;
  if (inStep) await conn.until(() => probeAnswered() && replies() >= expectReplies, CASE_TIMEOUT_MS);
  else await conn.until(() => false, t?.kind === 'truncated' || t?.kind === 'close' ? CASE_TIMEOUT_MS : 1500);

  // Every frame the node sent must follow the contract.
  const closeFrame = conn.frames.find((f) => f.opcode === Opcode.close);
  for (const [i, frame] of conn.frames.entries()) {
    if (frame.masked || frame.rsv !== 0 || ![Opcode.text, Opcode.close, Opcode.ping, Opcode.pong].includes(frame.opcode as 1)) live.violation(caseId, `a malformed server frame (opcode ${frame.opcode}, rsv ${frame.rsv}, masked ${frame.masked})`);
    if (frame.opcode === Opcode.text) {
      const problem = !isUtf8(frame.payload) ? 'a server text frame is not UTF-8' : serverFrameProblem(frame.payload.toString('utf8'));
      if (problem !== undefined) live.violation(caseId, problem);
      if (i === 0 && !frame.payload.toString().startsWith('{"type":"welcome"')) live.violation(caseId, `the first frame is not a welcome: ${frame.payload.toString().slice(0, 100)}`);
    }
  }
  let closeCode: number | undefined;
  if (closeFrame !== undefined && closeFrame.payload.length >= 2) {
    closeCode = closeFrame.payload.readUInt16BE(0);
    const reason = closeFrame.payload.subarray(2);
    const problem = !isUtf8(reason) ? 'a close reason that is not UTF-8' : closeProblem(closeCode, reason.toString('utf8'), sentClose);
    if (problem !== undefined) live.violation(caseId, problem);
  } else if (closeFrame !== undefined && closeFrame.payload.length === 1) live.violation(caseId, 'a close frame with a 1-byte payload');

  const closedHow = closeFrame === undefined ? (conn.closed ? 'cut' : 'open') : `close ${closeCode ?? '-'}`;
  if (inStep) {
    // Legal framing, whatever the JSON inside: one reply per message, pongs for pings, and the connection stays open.
    if (conn.closed || closeFrame !== undefined) live.violation(caseId, `the node closed a connection that sent only legal frames (${closedHow}); it must answer and stay open`);
    else if (!probeAnswered()) live.violation(caseId, `no reply to a valid ping within ${CASE_TIMEOUT_MS} ms`);
    else if (replies() !== expectReplies) live.violation(caseId, `${replies()} replies to ${expectReplies} messages: ${textFrames().slice(-4).join(' ').slice(0, 300)}`);
    const pongs = conn.frames.filter((f) => f.opcode === Opcode.pong).length;
    if (pongs !== pings) live.violation(caseId, `${pongs} WebSocket pongs to ${pings} pings`);
    return `in step${t?.kind === 'size' ? ` (size ${t.size - live.maxPayload >= 0 ? '+' : ''}${t.size - live.maxPayload})` : ''}`;
  }
  if (t?.kind === 'size') {
    const over = t.size - live.maxPayload;
    if (t.size <= 2 * live.maxPayload) {
      // docs/protocol.md, "Frame size": over HERALD_MAX_PAYLOAD closes with 1009 payload_too_large.
      if (closeCode !== 1009) live.violation(caseId, `a ${t.size}-byte message (limit ${live.maxPayload}) must close with 1009 payload_too_large, got ${closedHow}`);
    } else if (!conn.closed && closeFrame === undefined) live.violation(caseId, `a ${t.size}-byte message (over twice the limit) must be cut off, the connection is still ${closedHow}`);
    return `size +${over}: ${closedHow}`;
  }
  if (t?.kind === 'close' && closeFrame === undefined && !conn.closed) live.violation(caseId, 'a close frame got neither a close frame nor the end of the connection');
  // docs/protocol.md, "Limits": a text frame that is not UTF-8 is cut off without a close frame.
  if (t?.kind === 'violation' && t.name.startsWith('invalid UTF-8') && (closeFrame !== undefined || !conn.closed)) live.violation(caseId, `a text frame that is not UTF-8 must be cut off without a close frame; the connection is ${closedHow}`);
  return `${t!.kind === 'violation' ? `violation (${t!.name})` : t!.kind}: ${closedHow}`;
}
