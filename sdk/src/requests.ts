/**
 * Frames waiting for their reply, matched by `id`. Every wait is bounded:
 * a reply that does not come within the timeout fails with `timeout`, and a
 * lost connection fails everything still waiting with `connection_lost`.
 * Ids are never reused, so a reply can never be matched to the wrong frame.
 *
 * Replies are handed over synchronously, not through promises: `ws` delivers
 * every frame of one TCP read in one go, and a subscription must have taken in
 * its ack (the new epoch and offset) before the replayed messages behind it.
 */
import type { AckFrame, ErrorFrame, FrameId, PongFrame, PresenceCountFrame, PresenceFrame } from './codec.js';
import { HeraldError } from './errors.js';

export type Reply = AckFrame | PongFrame | PresenceFrame | PresenceCountFrame;
export type Done = (error: HeraldError | undefined, reply?: Reply) => void;

interface Pending {
  done: Done;
  timer: unknown;
}

export class Requests {
  private lastId = 0;
  private readonly pending = new Map<FrameId, Pending>();

  /** Sends with a fresh id (through `send`) and calls `done` once: with the reply, or with the error. */
  open(send: (id: number) => void, timeoutMs: number, done: Done): void {
    const id = ++this.lastId;
    const timer = setTimeout(() => {
      this.pending.delete(id);
      done(new HeraldError('timeout', `no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    this.pending.set(id, { done, timer });
    send(id);
  }

  /** Settles the frame a reply answers; replies to nothing waiting (late, or unsolicited) are ignored. */
  settle(reply: Reply | ErrorFrame): void {
    const pending = reply.id === undefined ? undefined : this.pending.get(reply.id);
    if (pending === undefined) return;
    this.pending.delete(reply.id!);
    clearTimeout(pending.timer);
    if (reply.type === 'error') pending.done(new HeraldError(reply.code, reply.message));
    else pending.done(undefined, reply);
  }

  failAll(code: 'connection_lost'): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const pending of all) {
      clearTimeout(pending.timer);
      pending.done(new HeraldError(code, 'the connection ended before the reply'));
    }
  }
}
