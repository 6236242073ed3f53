/**
 * Bare uWebSockets.js: the ceiling of Herald's stack. No auth, no protocol,
 * no metrics: a client connects to /ws?topic=x and is subscribed on open (and
 * told so with an ack frame); POST /publish?topic=x wraps the body in the same
 * delivery frame Herald sends, so both put the same bytes on the wire, and
 * hands it to app.publish.
 *
 * Publishes are queued and handed to app.publish once per event-loop turn
 * (setImmediate), exactly as Herald's brokers deliver them, so that this
 * stays the ceiling of Herald's design and not a weaker straw man: a turn's
 * messages then reach each socket in one write.
 *
 * Settings as Herald's defaults: 1 MiB max backpressure (frames beyond it are
 * dropped by uWebSockets.js, which the harness reports as loss), idle timeout
 * 60 s with automatic pings. Env: PORT. Exits when its parent closes stdin.
 */
import { createRequire } from 'node:module';

const uWS = createRequire(import.meta.url)('uWebSockets.js');
const port = Number(process.env.PORT ?? 0);
const app = uWS.App();

app.ws('/ws', {
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 60,
  sendPingsAutomatically: true,
  upgrade: (res, req, context) => {
    res.upgrade(
      { topic: req.getQuery('topic') || 'default' },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    ws.subscribe(ws.getUserData().topic);
    ws.send('{"type":"ack","id":1}');
  },
});

let queue = [];
function flush() {
  const batch = queue;
  queue = [];
  for (let i = 0; i < batch.length; i += 2) app.publish(batch[i], batch[i + 1], false, false);
}

app.post('/publish', (res, req) => {
  const topic = req.getQuery('topic') || 'default';
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const chunks = [];
  res.onData((chunk, isLast) => {
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (!isLast || aborted) return;
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (queue.length === 0) setImmediate(flush);
    queue.push(topic, `{"type":"message","topic":"${topic}","data":${body.toString('utf8')},"ts":${Date.now()}}`);
    res.cork(() => res.writeStatus('202 Accepted').end('{"accepted":1}'));
  });
});

app.get('/readyz', (res) => res.end('ok'));

app.listen('127.0.0.1', port, (socket) => {
  if (!socket) {
    process.stderr.write(`uws-bare: cannot listen on ${port}\n`);
    process.exit(1);
  }
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
