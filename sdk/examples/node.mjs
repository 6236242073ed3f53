// A complete client: run it from the repository root while `npm start` or `npm run demo` runs (development mode):
//   node sdk/examples/node.mjs
import { HeraldClient } from '@herald/client';
import { WebSocket } from 'ws';

const base = process.env.HERALD_URL ?? 'http://localhost:8080';

// Development mode hands out short-lived tokens at /demo/token; in production, ask your own backend.
async function getToken() {
  const res = await fetch(`${base}/demo/token?name=node-example`);
  if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
  return (await res.json()).token;
}

const client = new HeraldClient({ url: `${base.replace(/^http/, 'ws')}/ws`, getToken, WebSocket });
client.on('state', (state) => console.log('state:', state));
client.on('connected', ({ node, sub }) => console.log(`connected to ${node} as ${sub}`));
client.on('disconnected', ({ code, reason, willReconnect }) => console.log(`disconnected: ${code} ${reason}${willReconnect ? ' (reconnecting)' : ''}`));

client.subscribe('demo.ticker', (message) => console.log('tick', JSON.stringify(message.data)));

const room = client.subscribe('chat.lobby', (m) => console.log(`${m.data.name}: ${m.data.text}`), { since: { last: 20 }, presence: true });
room.on('subscribed', ({ recovered, offset }) => {
  console.log(offset === undefined ? 'joined chat.lobby (no history on this server)' : `joined chat.lobby at offset ${offset}, recovered: ${recovered}`);
  client.publish('chat.lobby', { name: 'node-example', text: 'hello from Node' }).catch((error) => console.log('publish failed:', error.code));
});
room.on('gap', () => console.log('messages were missed while away: reload the room'));
room.on('members', (members) => console.log('online:', members.map((m) => m.info?.name ?? m.sub).join(', ')));
room.on('join', ({ sub }) => console.log(`${sub} joined`));
room.on('error', (error) => console.log(error.code === 'no_presence' ? 'no presence on this server (start it with npm run demo)' : `chat.lobby: ${error.code}`));

client.connect();
setTimeout(() => client.close(), Number(process.env.RUN_SECONDS ?? 10) * 1000);
