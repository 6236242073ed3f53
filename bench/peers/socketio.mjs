/**
 * Socket.IO 4 peer: clients (WebSocket transport only) join a room by
 * emitting `subscribe` (acknowledged); deliveries are the event `m`.
 *
 * With REDIS_URL it uses @socket.io/redis-adapter, and backends publish
 * through @socket.io/redis-emitter (the publisher process does). Without it,
 * a single in-memory server; POST /publish?topic=x (body: the JSON payload)
 * then emits to the room, which is the fair in-memory equivalent of Herald's
 * HTTP publish. Env: PORT, REDIS_URL. Exits when its parent closes stdin.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 0);
const redisUrl = process.env.REDIS_URL;

const http = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/readyz') {
    res.writeHead(200, { 'content-length': '2' }).end('ok');
    return;
  }
  if (req.method === 'POST' && req.url?.startsWith('/publish?topic=')) {
    const topic = decodeURIComponent(req.url.slice('/publish?topic='.length));
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let data;
      try {
        data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-length': '0' }).end();
        return;
      }
      io.to(topic).emit('m', data);
      res.writeHead(202, { 'content-length': '14' }).end('{"accepted":1}');
    });
    return;
  }
  res.writeHead(404, { 'content-length': '0' }).end();
});

const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  pingInterval: 25_000,
  pingTimeout: 20_000,
  perMessageDeflate: false,
});

if (redisUrl) {
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate();
  io.adapter(createAdapter(pub, sub));
}

io.on('connection', (socket) => {
  socket.on('subscribe', (topic, ack) => {
    if (typeof topic === 'string') socket.join(topic);
    if (typeof ack === 'function') ack(true);
  });
});

http.listen(port, '127.0.0.1');
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
