// switchboard chat page. It speaks the chat protocol of docs/protocol.md at
// /ws and nothing else: no framework, no build step, no CDN.
//
// Delivery: every room keeps lastSeq, the highest seq shown with nothing
// missing below it. A message at lastSeq+1 is shown, one below is a
// duplicate and dropped, one above waits in the room's order buffer until
// the gap fills. After a reconnect each room is rejoined with since:
// lastSeq, so the server replays exactly what was missed; unacked
// publishes are sent again with the same id, which the server answers
// with the original seq instead of storing twice.
'use strict';

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const TYPING_SEND_EVERY = 2000; // the server debounces to one per 2 s anyway
const TYPING_SHOW_FOR = 3500;
const AWAY_AFTER = 30000;
const HISTORY_PAGE = 50;
const RETRY_MIN = 250, RETRY_MAX = 8000;

const S = {
  config: { auth: 'jwt', dashboard: true },
  name: '',        // asked-for user name (--auth none)
  token: '',       // JWT (--auth jwt)
  me: '',          // the user the server says we are (welcome)
  ws: null,
  open: false,     // welcome received on the current socket
  everOpen: false,
  attempt: 0,
  retryAt: 0,
  retryTimer: 0,
  stopped: true,   // no reconnecting (signed out, token expired)
  rooms: new Map(),
  current: '',
  outbox: new Map(), // message id -> {room, body, failed}
  status: 'online',
  awayTimer: 0,
  autoAway: false, // away because the tab was hidden, not by the button
  lastTypingSent: 0,
  goawayMs: null,  // reconnect delay from the server's goaway frame
  pendingInvite: null, // {room, invite} from an invite link
};

// ---- rooms ----------------------------------------------------------------

function room(id) {
  let r = S.rooms.get(id);
  if (!r) {
    r = {
      id, private: false, online: 0, listed: false,
      wanted: false,   // the user is in this room (persisted, rejoined on reconnect)
      joined: false,   // joined on the current socket
      joinMode: '',    // 'plain' or 'since': what the last join asked for
      known: false,    // lastSeq is meaningful (a plain join answered)
      lastSeq: 0, msgs: [], seqs: new Set(), pending: new Map(),
      more: false, loadingOlder: false,
      members: new Map(), memberCount: 0,
      typing: new Map(), reads: new Map(), readSent: 0, readTimer: 0,
      unread: 0, invite: null,
    };
    S.rooms.set(id, r);
  }
  return r;
}

function persist() {
  if (!S.me) return;
  const rooms = [...S.rooms.values()].filter((r) => r.wanted).map((r) => r.id);
  localStorage.setItem('switchboard.v1.' + S.me, JSON.stringify({ rooms, current: S.current }));
}

function restore() {
  try {
    return JSON.parse(localStorage.getItem('switchboard.v1.' + S.me)) || null;
  } catch {
    return null;
  }
}

// ---- socket ---------------------------------------------------------------

function send(frame) {
  if (S.ws && S.ws.readyState === WebSocket.OPEN && S.open) {
    S.ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function connect() {
  clearTimeout(S.retryTimer);
  S.stopped = false;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = `${scheme}//${location.host}/ws`;
  const protocols = ['switchboard.v1'];
  if (S.config.auth === 'none') url += '?user=' + encodeURIComponent(S.name);
  else protocols.push('bearer.' + S.token);
  setConn('connecting', S.everOpen ? 'reconnecting…' : 'connecting…');
  let ws;
  try {
    ws = new WebSocket(url, protocols);
  } catch (err) {
    loginError('Cannot open a connection: ' + err.message);
    return;
  }
  S.ws = ws;
  S.open = false;
  ws.onmessage = (ev) => {
    let f;
    try {
      f = JSON.parse(ev.data);
    } catch {
      return;
    }
    onFrame(f);
  };
  ws.onclose = (ev) => {
    if (S.ws !== ws) return;
    const wasOpen = S.open;
    S.ws = null;
    S.open = false;
    for (const r of S.rooms.values()) r.joined = false;
    onDisconnect(ev.code, ev.reason, wasOpen);
  };
}

function onDisconnect(code, reason, wasOpen) {
  renderRoom();
  if (S.stopped) return;
  if (code === 4003) { // token expired: a fresh one is needed
    S.stopped = true;
    setConn('offline', 'token expired');
    showLogin('Your token expired. Paste a fresh one.');
    return;
  }
  if (!S.everOpen && S.config.auth === 'jwt' && S.attempt >= 2) {
    S.stopped = true;
    setConn('offline', 'not connected');
    showLogin('The server refused the connection. Check the token (a bad or expired one is answered 401).');
    return;
  }
  if (!S.everOpen && S.config.auth === 'none' && S.attempt >= 2 && !wasOpen) {
    S.stopped = true;
    setConn('offline', 'not connected');
    showLogin('The server refused the connection. Names are 1-128 printable characters without spaces.');
    return;
  }
  if (wasOpen) S.attempt = 0;
  let delay = Math.min(RETRY_MAX, RETRY_MIN * 2 ** S.attempt) * (0.75 + Math.random() / 2);
  if (S.goawayMs !== null) { // the server's own spread of reconnects after a restart
    delay = S.goawayMs;
    S.goawayMs = null;
  }
  S.attempt++;
  S.retryAt = Date.now() + delay;
  S.retryTimer = setTimeout(connect, delay);
  const why = code === 4001 ? 'too far behind' : code === 1001 ? 'server restarting' : 'connection lost';
  setConn('offline', `${why}; retrying`);
  showBanner(`${why[0].toUpperCase() + why.slice(1)} (code ${code}${reason ? ': ' + reason : ''}). Reconnecting — ` +
    'messages you send now go out once it is back.');
}

// A browser coming back online retries at once instead of waiting out the back-off.
window.addEventListener('online', () => {
  if (!S.ws && !S.stopped) connect();
});

function onWelcome(f) {
  S.me = f.user;
  S.open = true;
  S.everOpen = true;
  S.attempt = 0;
  hideBanner();
  setConn('online', 'connected');
  $('me').textContent = S.me;
  sessionStorage.setItem('switchboard.session', JSON.stringify({ name: S.name, token: S.token }));
  if (!S.current) {
    const saved = restore();
    if (saved) {
      for (const id of saved.rooms) room(id).wanted = true;
      if (saved.current && S.rooms.has(saved.current)) S.current = saved.current;
    }
  }
  takeInvite();
  if (S.status === 'away') send({ type: 'presence', status: 'away' });
  listRooms();
  let any = false;
  for (const r of S.rooms.values()) {
    if (r.wanted) {
      join(r);
      any = true;
    }
  }
  if (!any) {
    // A first visit lands in the lobby, made on the spot if nobody has yet.
    send({ type: 'create', room: 'lobby', ref: 'create:lobby' });
    S.current = 'lobby';
  }
  renderRooms();
  renderRoom();
}

// takeInvite makes the room of an opened invite link current and joined
// with its token.
function takeInvite() {
  if (!S.pendingInvite) return;
  const r = room(S.pendingInvite.room);
  r.wanted = true;
  r.invite = S.pendingInvite.invite;
  S.current = r.id;
  S.pendingInvite = null;
  return r;
}

function join(r) {
  r.wanted = true;
  const f = { type: 'join', room: r.id, ref: 'join:' + r.id };
  if (r.known) {
    f.since = r.lastSeq; // replay exactly what this page has not seen
    r.joinMode = 'since';
  } else {
    r.joinMode = 'plain';
  }
  if (r.invite) f.invite = r.invite;
  send(f);
  persist();
}

function listRooms(after) {
  const f = { type: 'rooms', limit: 200 };
  if (after) f.after = after;
  send(f);
}

// ---- frames from the server -------------------------------------------------

function onFrame(f) {
  switch (f.type) {
    case 'welcome': return onWelcome(f);
    case 'rooms': return onRooms(f);
    case 'created': {
      const r = room(f.room);
      r.private = f.private;
      r.listed = true;
      join(r);
      return renderRooms();
    }
    case 'joined': return onJoined(f);
    case 'left': {
      const r = room(f.room);
      r.joined = false;
      return renderRooms();
    }
    case 'message': return onMessage(f);
    case 'ack': return onAck(f);
    case 'history': return onHistory(f);
    case 'reset': {
      // The server cannot replay from our seq (history trimmed, or it
      // restarted with an empty memory store): a plain joined follows.
      const r = room(f.room);
      r.joinMode = 'plain';
      toast(`#${f.room}: history moved on while you were away; showing the latest messages.`);
      return;
    }
    case 'presence': return onPresence(f);
    case 'typing': return onTyping(f);
    case 'read': {
      const r = room(f.room);
      r.reads.set(f.user, Math.max(r.reads.get(f.user) || 0, f.seq));
      if (r.id === S.current) renderMessages();
      return;
    }
    case 'members': return onMembers(f);
    case 'invite': return showInvite(f);
    case 'revoked':
      $('invite-dialog').close();
      return toast(`The invite link for #${f.room} no longer works.`);
    case 'role': {
      const r = room(f.room);
      const m = r.members.get(f.user);
      if (m) m.role = f.role;
      if (f.user === S.me) toast(`${f.by} made you ${f.role === 'admin' ? 'an admin' : 'a member'} of #${f.room}.`);
      return renderMembers();
    }
    case 'kicked': {
      const r = room(f.room);
      if (f.user === S.me) {
        r.wanted = false;
        r.joined = false;
        persist();
        toast(`${f.by} removed you from #${f.room}.`);
        renderRooms();
        return renderRoom();
      }
      r.members.delete(f.user);
      r.memberCount = Math.max(0, r.memberCount - 1);
      return renderMembers();
    }
    case 'goaway':
      // The server is shutting down and says when to come back; the close
      // frame (1001) follows.
      S.goawayMs = f.reconnect_after_ms;
      return;
    case 'error': return onError(f);
  }
}

function onRooms(f) {
  for (const info of f.rooms) {
    const r = room(info.room);
    r.private = info.private;
    r.online = info.online;
    r.listed = true;
  }
  if (f.more && f.rooms.length) listRooms(f.rooms[f.rooms.length - 1].room);
  renderRooms();
}

function onJoined(f) {
  const r = room(f.room);
  // A private room entered by invite was not in the list: ask again, to learn it is private.
  if (!r.listed) listRooms();
  r.joined = true;
  r.wanted = true;
  r.invite = null;
  r.online = f.online;
  r.listed = true;
  if (r.joinMode === 'plain') {
    // The last messages, and live ones from seq+1: start over from them.
    r.msgs = [];
    r.seqs = new Set();
    r.pending = new Map();
    r.lastSeq = f.seq;
    r.known = true;
    for (const m of f.history) insertMessage(r, m);
    r.more = f.history.length > 0 && f.history[0].seq > 1;
  }
  // With since, the replay follows as message frames; lastSeq stays.
  if (!S.current) S.current = r.id;
  send({ type: 'members', room: r.id });
  // Publishes that were never acked go again with the same id.
  for (const [id, o] of S.outbox) {
    if (o.room === r.id && !o.failed) send({ type: 'publish', room: r.id, id, body: o.body, ref: 'pub:' + id });
  }
  persist();
  renderRooms();
  if (r.id === S.current) {
    renderRoom();
    scrollToBottom();
  }
}

function onMessage(m) {
  const r = room(m.room);
  if (!r.known) return; // not joined on this page: cannot happen, the server sends joined first
  if (m.seq <= r.lastSeq || r.pending.has(m.seq)) return; // a duplicate
  if (m.seq > r.lastSeq + 1) { // a gap: hold it until the missing ones arrive
    r.pending.set(m.seq, m);
    return;
  }
  const atBottom = isAtBottom();
  deliver(r, m);
  for (let next; (next = r.pending.get(r.lastSeq + 1));) {
    r.pending.delete(next.seq);
    deliver(r, next);
  }
  if (r.id === S.current) {
    renderMessages();
    renderTyping();
    if (atBottom) scrollToBottom();
    markRead(r);
  } else {
    renderRooms();
  }
}

function deliver(r, m) {
  r.lastSeq = m.seq;
  insertMessage(r, m);
  if (m.from === S.me) S.outbox.delete(m.id);
  else if (r.id !== S.current || document.hidden) r.unread++;
  const t = r.typing.get(m.from);
  if (t) {
    clearTimeout(t);
    r.typing.delete(m.from);
  }
}

function insertMessage(r, m) {
  if (r.seqs.has(m.seq)) return;
  r.seqs.add(m.seq);
  const last = r.msgs[r.msgs.length - 1];
  if (!last || last.seq < m.seq) {
    r.msgs.push(m);
    return;
  }
  let i = r.msgs.findIndex((x) => x.seq > m.seq);
  if (i < 0) i = r.msgs.length;
  r.msgs.splice(i, 0, m);
}

function onAck(f) {
  const o = S.outbox.get(f.id);
  if (o) o.seq = f.seq; // the message frame itself arrives through fan-out
}

function onHistory(f) {
  const r = room(f.room);
  r.loadingOlder = false;
  const box = $('messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  for (const m of f.messages) insertMessage(r, m);
  r.more = f.more;
  if (r.id === S.current) {
    renderMessages();
    box.scrollTop = box.scrollHeight - fromBottom; // keep what the reader was looking at in place
  }
}

function onPresence(f) {
  const r = room(f.room);
  const m = r.members.get(f.user) || { role: 'member', status: 'offline' };
  const was = m.status;
  m.status = f.status;
  if (!r.members.has(f.user)) {
    r.members.set(f.user, m);
    r.memberCount++;
  }
  if (was === 'offline' && f.status !== 'offline') r.online++;
  if (was !== 'offline' && f.status === 'offline') r.online = Math.max(0, r.online - 1);
  if (f.status === 'offline') clearTyping(r, f.user);
  if (r.id === S.current) {
    renderMembers();
    renderRoomMeta();
  }
  renderRooms();
}

function onTyping(f) {
  const r = room(f.room);
  clearTimeout(r.typing.get(f.user));
  r.typing.set(f.user, setTimeout(() => clearTyping(r, f.user), TYPING_SHOW_FOR));
  if (r.id === S.current) renderTyping();
}

function clearTyping(r, user) {
  clearTimeout(r.typing.get(user));
  if (r.typing.delete(user) && r.id === S.current) renderTyping();
}

function onMembers(f) {
  const r = room(f.room);
  r.members = new Map();
  for (const m of f.members) r.members.set(m.user, { role: m.role, status: m.online ? 'online' : 'offline' });
  r.memberCount = f.count;
  if (r.id === S.current) renderMembers();
}

function onError(f) {
  const [what, arg] = (f.ref || '').split(/:(.*)/s);
  if (what === 'create' && f.code === 'exists') {
    join(room(arg));
    return;
  }
  if (what === 'join' && f.code === 'rate_limited') {
    setTimeout(() => { if (S.open) join(room(arg)); }, 1500); // refused unread: ask again
    return;
  }
  if (what === 'join') {
    const r = room(arg);
    r.wanted = false;
    r.invite = null;
    persist();
    if (S.current === arg) S.current = '';
    renderRooms();
    renderRoom();
    toast(f.code === 'forbidden' ? `#${arg} is private: you need an invite link.` : `Cannot join #${arg}: ${f.message}`);
    return;
  }
  if (what === 'pub') {
    const o = S.outbox.get(arg);
    if (!o) return;
    if (f.code === 'rate_limited' || f.code === 'unavailable') {
      // Nothing was stored: send it again shortly, same id.
      setTimeout(() => send({ type: 'publish', room: o.room, id: arg, body: o.body, ref: 'pub:' + arg }), 1500);
      return;
    }
    o.failed = f.message;
    renderMessages();
    return;
  }
  if (what === 'hist') room(arg).loadingOlder = false;
  toast(f.message || f.code);
}

// ---- actions ----------------------------------------------------------------

function openRoom(id) {
  const r = room(id);
  S.current = id;
  r.unread = 0;
  if (!r.joined) {
    if (S.open) join(r);
    else r.wanted = true;
  } else {
    send({ type: 'members', room: id });
  }
  persist();
  renderRooms();
  renderRoom();
  scrollToBottom();
  markRead(r);
}

function publish(text) {
  const r = S.rooms.get(S.current);
  if (!r || !r.wanted) return;
  const id = messageId();
  const body = { text };
  S.outbox.set(id, { room: r.id, body });
  if (r.joined) send({ type: 'publish', room: r.id, id, body, ref: 'pub:' + id });
  renderMessages();
  scrollToBottom();
}

function messageId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); // plain-HTTP pages have no randomUUID
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function loadOlder(r) {
  if (!r.more || r.loadingOlder || !r.joined || !r.msgs.length) return;
  r.loadingOlder = true;
  send({ type: 'history', room: r.id, before: r.msgs[0].seq, limit: HISTORY_PAGE, ref: 'hist:' + r.id });
  renderOlder();
}

// markRead moves this user's read cursor once the newest message is on screen.
function markRead(r) {
  if (document.hidden || r.id !== S.current || !r.joined || r.lastSeq <= r.readSent || !isAtBottom()) return;
  if (r.readTimer) return;
  r.readTimer = setTimeout(() => {
    r.readTimer = 0;
    if (r.lastSeq > r.readSent && r.joined && send({ type: 'read', room: r.id, seq: r.lastSeq })) r.readSent = r.lastSeq;
  }, 300);
}

function setAway(away) {
  S.status = away ? 'away' : 'online';
  send({ type: 'presence', status: S.status });
  $('away').textContent = away ? 'set online' : 'set away';
  const me = S.rooms.get(S.current)?.members.get(S.me);
  if (me) me.status = S.status;
  renderMembers();
}

document.addEventListener('visibilitychange', () => {
  clearTimeout(S.awayTimer);
  if (document.hidden) {
    S.awayTimer = setTimeout(() => {
      if (S.status === 'online') {
        S.autoAway = true;
        setAway(true);
      }
    }, AWAY_AFTER);
  } else {
    if (S.status === 'away' && S.autoAway) setAway(false);
    const r = S.rooms.get(S.current);
    if (r) {
      r.unread = 0;
      markRead(r);
      renderRooms();
    }
  }
});

// ---- rendering ----------------------------------------------------------------

function setConn(state, text) {
  $('conn').dataset.state = state;
  $('conn-text').textContent = text + (state === 'online' && S.me ? ` as ${S.me}` : '');
}

function showBanner(text) {
  $('banner').textContent = text;
  $('banner').hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
}

let toastTimer = 0;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 5000);
}

function renderRooms() {
  const list = $('room-list');
  list.replaceChildren();
  const rooms = [...S.rooms.values()].filter((r) => r.listed || r.wanted).sort((a, b) => a.id.localeCompare(b.id));
  for (const r of rooms) {
    const li = el('li', 'room' + (r.id === S.current ? ' current' : '') + (r.wanted ? ' in' : ''));
    li.dataset.room = r.id;
    li.append(roomMark(r), el('span', 'name', r.id));
    if (r.online > 0) li.append(el('span', 'online', String(r.online)));
    if (r.unread > 0) li.append(el('span', 'badge', String(r.unread)));
    li.title = `${r.private ? 'private' : 'public'} room, ${r.online} online here`;
    li.onclick = () => openRoom(r.id);
    list.append(li);
  }
  if (!rooms.length) list.append(el('li', 'none', 'No rooms yet.'));
}

// roomMark is # for a public room and a lock for a private one.
function roomMark(r) {
  const m = el('span', r.private ? 'mark lock' : 'mark', r.private ? '' : '#');
  m.title = r.private ? 'private room' : 'public room';
  return m;
}

function renderRoom() {
  const r = S.rooms.get(S.current);
  $('room-title').replaceChildren(...(r ? [roomMark(r), r.id] : ['No room']));
  $('invite-btn').hidden = !r || !r.joined;
  $('leave-btn').hidden = !r || !r.wanted;
  $('text').disabled = !r || !r.wanted;
  $('send').disabled = !r || !r.wanted;
  $('text').placeholder = r ? `Message #${r.id}` : 'Pick or create a room';
  renderRoomMeta();
  renderMessages();
  renderMembers();
  renderTyping();
}

function renderRoomMeta() {
  const r = S.rooms.get(S.current);
  let meta = '';
  if (r) {
    meta = `${r.private ? 'private' : 'public'} · ${r.online} online`;
    if (r.memberCount) meta += ` · ${r.memberCount} member${r.memberCount === 1 ? '' : 's'}`;
    if (!r.joined && r.wanted) meta += ' · joining…';
  }
  $('room-meta').textContent = meta;
}

function renderOlder() {
  const r = S.rooms.get(S.current);
  const box = $('older');
  box.replaceChildren();
  if (!r || !r.more) return;
  if (r.loadingOlder) {
    box.append(el('span', 'loading', 'Loading older messages…'));
    return;
  }
  const b = el('button', 'link', 'Load older messages');
  b.type = 'button';
  b.onclick = () => loadOlder(r);
  box.append(b);
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });

function renderMessages() {
  const r = S.rooms.get(S.current);
  const list = $('message-list');
  list.replaceChildren();
  renderOlder();
  if (!r) {
    $('empty').hidden = true;
    return;
  }
  let prev = null;
  // Who has read up to which message: shown under the newest one they have read.
  const seenAt = new Map();
  for (const [user, seq] of r.reads) {
    if (user === S.me) continue;
    const upTo = r.msgs.findLast((m) => m.seq <= seq);
    if (upTo) seenAt.set(upTo.seq, [...(seenAt.get(upTo.seq) || []), user]);
  }
  for (const m of r.msgs) {
    const ts = new Date(m.ts);
    if (!prev || new Date(prev.ts).toDateString() !== ts.toDateString()) {
      list.append(el('li', 'day', dayFmt.format(ts)));
      prev = null;
    }
    const grouped = prev && prev.from === m.from && ts - new Date(prev.ts) < 5 * 60000;
    list.append(messageItem(m, grouped, seenAt.get(m.seq), r));
    prev = m;
  }
  for (const [id, o] of S.outbox) {
    if (o.room !== r.id) continue;
    const li = messageItem({ id, from: S.me, body: o.body, ts: new Date().toISOString() },
      prev && prev.from === S.me, null, r);
    li.classList.add('pending');
    const st = li.querySelector('.status');
    st.textContent = o.failed ? `not sent: ${o.failed}` : o.seq ? 'sent' : 'sending…';
    if (o.failed) li.classList.add('failed');
    list.append(li);
    prev = { from: S.me, ts: new Date().toISOString() };
  }
  $('empty').hidden = r.msgs.length > 0 || !r.known || [...S.outbox.values()].some((o) => o.room === r.id);
}

function messageItem(m, grouped, seenBy, r) {
  const li = el('li', 'msg' + (grouped ? ' grouped' : '') + (m.from === S.me ? ' mine' : ''));
  if (m.seq) li.dataset.seq = m.seq;
  li.dataset.from = m.from;
  if (!grouped) {
    const head = el('div', 'head');
    head.append(avatar(m.from), el('span', 'from', m.from), el('time', 'time', timeFmt.format(new Date(m.ts))));
    li.append(head);
  }
  const body = m.body;
  const text = body && typeof body === 'object' && typeof body.text === 'string' ? body.text : JSON.stringify(body);
  const line = el('div', 'line');
  line.append(el('span', 'text', text));
  const status = el('span', 'status');
  if (m.seq && m.from === S.me) {
    const readers = [...r.reads].filter(([u, s]) => u !== S.me && s >= m.seq).length;
    status.textContent = readers ? '✓✓' : '✓';
    status.title = readers ? `read by ${readers}` : 'delivered to the server';
  }
  line.append(status);
  li.append(line);
  if (seenBy && seenBy.length) li.append(el('div', 'seen', 'Seen by ' + seenBy.sort().join(', ')));
  return li;
}

function avatar(user) {
  const a = el('span', 'avatar', [...user][0].toUpperCase());
  let h = 0;
  for (const c of user) h = (h * 31 + c.codePointAt(0)) >>> 0;
  a.style.background = `hsl(${h % 360} 55% 45%)`;
  return a;
}

function renderMembers() {
  const r = S.rooms.get(S.current);
  const list = $('members');
  list.replaceChildren();
  $('member-count').textContent = r && r.memberCount ? String(r.memberCount) : '';
  if (!r) return;
  const order = { online: 0, away: 1, offline: 2 };
  const members = [...r.members].sort(([a, x], [b, y]) => order[x.status] - order[y.status] || a.localeCompare(b));
  for (const [user, m] of members) {
    const li = el('li', 'member');
    li.dataset.user = user;
    li.dataset.status = m.status;
    const dot = el('span', 'presence ' + m.status);
    dot.title = m.status;
    li.append(dot, el('span', 'name', user + (user === S.me ? ' (you)' : '')));
    if (m.role !== 'member') li.append(el('span', 'role', m.role));
    list.append(li);
  }
}

function renderTyping() {
  const r = S.rooms.get(S.current);
  const users = r ? [...r.typing.keys()].filter((u) => u !== S.me).sort() : [];
  const t = $('typing');
  t.textContent = users.length === 0 ? '' :
    users.length === 1 ? `${users[0]} is typing…` :
    users.length <= 3 ? `${users.join(', ')} are typing…` : 'Several people are typing…';
}

function isAtBottom() {
  const box = $('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 60;
}

function scrollToBottom() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

function showInvite(f) {
  const link = `${location.origin}/#room=${encodeURIComponent(f.room)}&invite=${encodeURIComponent(f.token)}`;
  $('invite-room').textContent = '#' + f.room;
  $('invite-expires').textContent = new Date(f.expires).toLocaleString();
  $('invite-link').value = link;
  $('invite-revoke').onclick = () => send({ type: 'revoke', room: f.room, invite: f.token });
  $('invite-dialog').showModal();
  $('invite-link').select();
}

// ---- login ----------------------------------------------------------------------

function showLogin(error) {
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-name').hidden = S.config.auth !== 'none';
  $('login-token').hidden = S.config.auth === 'none';
  loginError(error || '');
  $(S.config.auth === 'none' ? 'name' : 'token').focus();
}

function loginError(text) {
  $('login-error').textContent = text;
  $('login-error').hidden = !text;
}

function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  S.attempt = 0;
  S.everOpen = false;
  connect();
}

function wire() {
  $('login-form').onsubmit = (ev) => {
    ev.preventDefault();
    if (S.config.auth === 'none') {
      const name = $('name').value.trim();
      if (!/^[^\s\x00-\x1f\x7f]{1,128}$/u.test(name)) return loginError('A name is 1-128 characters, no spaces.');
      S.name = name;
    } else {
      const token = $('token').value.trim().replace(/^Bearer\s+/i, '');
      if (!/^[A-Za-z0-9_.-]+$/.test(token)) return loginError('That does not look like a JWT.');
      S.token = token;
    }
    start();
  };
  $('new-room').onsubmit = (ev) => {
    ev.preventDefault();
    const id = $('new-room-name').value.trim().toLowerCase();
    if (!/^[a-z0-9_-]{1,64}$/.test(id)) return toast('Room names are 1-64 characters: a-z, 0-9, _ and -.');
    send({ type: 'create', room: id, private: $('new-room-private').checked, ref: 'create:' + id });
    S.current = id;
    $('new-room-name').value = '';
    $('new-room-private').checked = false;
  };
  $('refresh-rooms').onclick = () => listRooms();
  $('composer').onsubmit = (ev) => {
    ev.preventDefault();
    const text = $('text').value;
    if (!text.trim()) return;
    $('text').value = '';
    S.lastTypingSent = 0;
    publish(text);
  };
  $('text').oninput = () => {
    const now = Date.now();
    if (S.current && now - S.lastTypingSent > TYPING_SEND_EVERY && $('text').value) {
      if (send({ type: 'typing', room: S.current })) S.lastTypingSent = now;
    }
  };
  $('messages').onscroll = () => {
    const r = S.rooms.get(S.current);
    if (!r) return;
    if ($('messages').scrollTop < 40) loadOlder(r);
    markRead(r);
  };
  $('invite-btn').onclick = () => send({ type: 'invite', room: S.current });
  $('invite-copy').onclick = () => {
    $('invite-link').select();
    navigator.clipboard?.writeText($('invite-link').value).then(() => toast('Invite link copied.'), () => {});
  };
  $('leave-btn').onclick = () => {
    const r = S.rooms.get(S.current);
    if (!r) return;
    send({ type: 'leave', room: r.id });
    r.wanted = false;
    r.joined = false;
    r.known = false;
    S.current = '';
    persist();
    renderRooms();
    renderRoom();
  };
  $('away').onclick = () => {
    S.autoAway = false;
    setAway(S.status !== 'away');
  };
  $('logout').onclick = () => {
    S.stopped = true;
    sessionStorage.removeItem('switchboard.session');
    if (S.ws) S.ws.close(1000, 'signed out');
    location.href = '/';
  };
}

function parseHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get('room') && h.get('invite')) {
    S.pendingInvite = { room: h.get('room'), invite: h.get('invite') };
    // Keep the token out of the address bar and the history once read.
    history.replaceState(null, '', location.pathname + location.search);
  }
}

// An invite link opened in a tab that already runs the page.
window.addEventListener('hashchange', () => {
  parseHash();
  if (!S.open) return;
  const r = takeInvite();
  if (r && !r.joined) join(r);
  renderRooms();
  renderRoom();
});

async function main() {
  wire();
  parseHash();
  try {
    const res = await fetch('/config.json', { cache: 'no-cache' });
    S.config = await res.json();
  } catch {
    // An older server or an odd proxy: ask for a token, the safe default.
  }
  const params = new URLSearchParams(location.search);
  let saved = {};
  try {
    saved = JSON.parse(sessionStorage.getItem('switchboard.session')) || {};
  } catch {}
  if (S.config.auth === 'none') {
    S.name = params.get('user') || saved.name || '';
    $('name').value = S.name || localStorage.getItem('switchboard.lastName') || '';
    if (S.name) return start();
  } else if (saved.token) {
    S.token = saved.token;
    return start();
  }
  showLogin();
}

// Hooks for tests and curious people: what this page believes, and
// receive(frame), which handles a frame as if the server had sent it.
window.switchboard = {
  receive: (f) => onFrame(f),
  get user() { return S.me; },
  get connected() { return S.open; },
  room(id) {
    const r = S.rooms.get(id);
    return r && { lastSeq: r.lastSeq, joined: r.joined, seqs: r.msgs.map((m) => m.seq), pending: [...r.pending.keys()] };
  },
};

window.addEventListener('beforeunload', () => {
  if (S.config.auth === 'none' && S.name) localStorage.setItem('switchboard.lastName', S.name);
});

main();
