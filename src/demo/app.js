// The demo page: a chat room and a live feed on @herald/client. Everything about the connection
// (reconnect, resubscribe, token refresh, recovery) is the SDK's; this file only draws.
const $ = (id) => document.getElementById(id);

// Imported here rather than statically, so that a build without the bundle (no sdk/ in it) still explains itself.
let HeraldClient;
try {
  ({ HeraldClient } = await import('/demo/herald-client.js'));
} catch (error) {
  $('room-title').textContent = 'This Herald has no SDK bundle for its demo page: build it with npm run build from a checkout that includes sdk/.';
  $('join-button').disabled = true;
  throw error;
}
const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const ROOM = /^[A-Za-z0-9_-]{1,64}$/;
const STATE_TEXT = { closed: 'not connected', connecting: 'connecting…', connected: 'connected', disconnected: 'reconnecting…' };

const config = await fetch('/demo/config.json').then((r) => r.json());
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

let client;
let me;
let room;
let roomSub;

$('name').value = sessionStorage.getItem('herald-demo-name') ?? `guest-${Math.floor(1000 + Math.random() * 9000)}`;
if (ROOM.test(location.hash.slice(1))) $('room').value = location.hash.slice(1);
$('token-field').hidden = config.devTokens;
$('token').required = !config.devTokens;
$('ticker-topic').textContent = config.ticker;
if (config.mode !== 'development') $('ticker-meta').textContent = `Herald publishes ${config.ticker} itself only in development mode; here a backend has to.`;

function log(text) {
  const item = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  item.append(time, text);
  $('log').prepend(item);
  while ($('log').children.length > 50) $('log').lastChild.remove();
}

function note(text, warn = false) {
  const item = document.createElement('li');
  item.className = warn ? 'note warn' : 'note';
  item.textContent = text;
  append(item);
}

function append(item) {
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function renderMessage(message) {
  const { name, text } = message.data ?? {};
  if (typeof name !== 'string' || typeof text !== 'string') return;
  const item = document.createElement('li');
  item.className = name === me ? 'msg mine' : 'msg';
  item.dataset.text = text;
  if (message.offset !== undefined) item.dataset.offset = String(message.offset);
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = name;
  const bubble = document.createElement('div');
  bubble.className = 'bubble';
  bubble.textContent = text;
  const time = document.createElement('time');
  time.textContent = new Date(message.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  item.append(who, bubble, time);
  append(item);
}

/** What presence shows of a user comes from their token's `info` claim (the dev token endpoint puts the name there). */
const displayName = (member) => (typeof member.info?.name === 'string' ? member.info.name : member.sub);

function renderOnline(members) {
  // You first, then by name.
  const sorted = [...members].sort((a, b) => (b.sub === me) - (a.sub === me) || displayName(a).localeCompare(displayName(b)));
  $('online').replaceChildren(...sorted.map((member) => {
    const item = document.createElement('li');
    item.dataset.sub = member.sub;
    item.textContent = displayName(member);
    if (member.sub === me) {
      const you = document.createElement('small');
      you.textContent = '(you)';
      item.append(' ', you);
    }
    return item;
  }));
  $('online').dataset.presence = client?.state === 'connected' ? 'live' : 'stale';
  $('online-count').hidden = false;
  $('online-count').textContent = String(members.length);
  $('online-hint').textContent = '';
}

function presenceOff(error) {
  $('online').replaceChildren();
  $('online').dataset.presence = 'off';
  $('online-count').hidden = true;
  const code = (text) => Object.assign(document.createElement('code'), { textContent: text });
  if (error.code === 'no_presence') {
    $('online-hint').replaceChildren('This Herald keeps no presence for chat rooms. To see who is online, start it with ', code("HERALD_PRESENCE='chat.>'"), ' and ', code("HERALD_PRESENCE_JOIN_LEAVE='chat.>'"), ' (', code('npm run demo'), ' does).');
  } else {
    $('online-hint').textContent = `Who is online is not available here (${error.code}).`;
  }
}

function renderState(state) {
  $('state').dataset.state = state;
  $('state').querySelector('b').textContent = STATE_TEXT[state] ?? state;
  const usable = state === 'connected' && roomSub !== undefined;
  $('text').disabled = !usable;
  $('send').disabled = !usable;
  if (state !== 'connected') {
    $('node').textContent = '';
    $('messages').dataset.subscribed = 'false';
    // Kept, greyed: who left or came while this tab was away is read again once it is back.
    if ($('online').dataset.presence === 'live') $('online').dataset.presence = 'stale';
  }
}

const series = [];
function renderTick(message) {
  const value = Number(message.data?.value);
  if (!Number.isFinite(value)) return;
  const previous = series.at(-1);
  series.push(value);
  if (series.length > 60) series.shift();
  $('ticker-value').textContent = value.toFixed(2);
  const delta = previous === undefined ? 0 : value - previous;
  $('ticker-delta').textContent = `${delta >= 0 ? '▲' : '▼'} ${Math.abs(delta).toFixed(2)}`;
  $('ticker-delta').className = delta >= 0 ? 'delta up' : 'delta down';
  $('ticker-meta').textContent = `tick #${message.data.seq} at ${new Date(message.ts).toLocaleTimeString()} · last ${series.length} s`;
  const min = Math.min(...series);
  const span = Math.max(...series) - min || 1;
  const step = 300 / Math.max(1, series.length - 1);
  const points = series.map((v, i) => `${(i * step).toFixed(1)},${(74 - ((v - min) / span) * 68).toFixed(1)}`);
  $('spark-line').setAttribute('d', `M${points.join(' L')}`);
  $('spark-area').setAttribute('d', `M0,80 L${points.join(' L')} L${points.at(-1).split(',')[0]},80 Z`);
}

async function getToken() {
  const res = await fetch(`/demo/token?name=${encodeURIComponent(me)}`);
  if (!res.ok) throw new Error(`the token endpoint answered ${res.status}`);
  return (await res.json()).token;
}

function connect() {
  const options = config.devTokens ? { url: wsUrl, getToken } : { url: wsUrl, token: $('token').value.trim() };
  client = new HeraldClient(options);
  client.on('state', renderState);
  client.on('connected', ({ node, sub, exp }) => {
    $('node').textContent = node;
    log(`connected to ${node} as ${sub}${exp ? `, token valid until ${new Date(exp * 1000).toLocaleTimeString()}` : ''}`);
  });
  client.on('disconnected', ({ code, reason, willReconnect, delayMs }) => {
    log(`disconnected: ${code}${reason ? ` ${reason}` : ''}${willReconnect ? `, retrying in ${(delayMs / 1000).toFixed(1)} s` : ''}`);
  });
  client.on('error', (error) => log(`${error.code}: ${error.message}`));
  const ticker = client.subscribe(config.ticker, renderTick);
  ticker.on('error', (error) => log(`${config.ticker}: ${error.code}`));
  client.connect();
}

function enter(next) {
  roomSub?.unsubscribe();
  room = next;
  location.hash = room;
  $('messages').replaceChildren();
  $('room-title').textContent = `# ${room}`;
  $('history').textContent = '';
  $('online').replaceChildren();
  $('online').dataset.presence = 'unknown';
  $('online-count').hidden = true;
  $('online-hint').textContent = 'Looking who is here…';
  let first = true;
  // presence: the SDK reads who is in the room after each (re)subscribe and follows joins and leaves.
  roomSub = client.subscribe(`chat.${room}`, renderMessage, { since: { last: 50 }, presence: true });
  roomSub.on('members', renderOnline);
  roomSub.on('join', (member) => member.sub !== me && note(`${displayName(member)} joined.`));
  roomSub.on('leave', (member) => member.sub !== me && note(`${displayName(member)} left.`));
  roomSub.on('subscribed', ({ offset }) => {
    $('messages').dataset.subscribed = 'true';
    if (first) {
      $('history').textContent = offset === undefined ? 'no history on this server (HERALD_HISTORY; npm run demo sets it): only live messages' : 'recent history loaded';
      note(`You joined #${room} as ${me}.`);
    }
    first = false;
  });
  roomSub.on('gap', ({ offset }) => {
    note(offset === undefined ? 'Reconnected. Messages sent while you were away are not shown: this server keeps no history.' : 'Reconnected, but the history could not cover the break: some messages are missing.', true);
  });
  roomSub.on('unsubscribed', ({ reason }) => reason !== 'client' && note(`You left #${room}: ${reason}.`, true));
  roomSub.on('error', (error) => (error.code === 'no_presence' ? presenceOff(error) : note(`#${room}: ${error.code} (${error.message})`, true)));
  renderState(client.state);
  $('text').focus();
}

$('join').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('name').value.trim();
  const next = $('room').value.trim();
  if (!NAME.test(name) || !ROOM.test(next)) return;
  if (client !== undefined && name !== me) {
    // Another name is another user: another token, another connection.
    roomSub = undefined;
    client.close();
    client = undefined;
  }
  me = name;
  sessionStorage.setItem('herald-demo-name', me);
  if (client === undefined) connect();
  enter(next);
  $('join-button').textContent = 'Switch';
});

$('compose').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('text').value.trim();
  if (text === '' || client === undefined) return;
  $('text').value = '';
  client.publish(`chat.${room}`, { name: me, text }).catch((error) => {
    note(`Not sent (${error.code}): "${text}"`, true);
    $('text').value ||= text;
  });
});

log(config.devTokens ? 'development mode: tokens come from /demo/token' : 'paste a token to join');
