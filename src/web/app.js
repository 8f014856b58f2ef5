// The built-in web client of ircd: IRC over WebSocket (text.ircv3.net), one
// IRC line per message. No framework, no build step. Every text that comes
// from the network reaches the page through textContent or a text node,
// never parsed as HTML: a message can never become markup.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  // el('li', {class: 'x'}, 'text', child): children that are strings become
  // text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  // --- IRC lines -----------------------------------------------------------

  function parse(line) {
    const m = { tags: {}, source: '', command: '', params: [] };
    let rest = line;
    if (rest.startsWith('@')) {
      const sp = rest.indexOf(' ');
      for (const t of rest.slice(1, sp < 0 ? undefined : sp).split(';')) {
        const eq = t.indexOf('=');
        m.tags[eq < 0 ? t : t.slice(0, eq)] = eq < 0 ? '' : t.slice(eq + 1);
      }
      rest = sp < 0 ? '' : rest.slice(sp + 1).replace(/^ +/, '');
    }
    if (rest.startsWith(':')) {
      const sp = rest.indexOf(' ');
      m.source = rest.slice(1, sp < 0 ? undefined : sp);
      rest = sp < 0 ? '' : rest.slice(sp + 1).replace(/^ +/, '');
    }
    const sp = rest.indexOf(' ');
    m.command = (sp < 0 ? rest : rest.slice(0, sp)).toUpperCase();
    rest = sp < 0 ? '' : rest.slice(sp + 1);
    while (rest.length) {
      rest = rest.replace(/^ +/, '');
      if (!rest.length) break;
      if (rest.startsWith(':')) { m.params.push(rest.slice(1)); break; }
      const s = rest.indexOf(' ');
      m.params.push(s < 0 ? rest : rest.slice(0, s));
      rest = s < 0 ? '' : rest.slice(s + 1);
    }
    m.nick = m.source.split('!')[0];
    return m;
  }

  // Durations as the server writes them: "90s", "30m", "2h", "7d".
  function seconds(d) {
    const m = /^(\d+)([smhd])$/.exec(d || '');
    if (!m) return null;
    return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
  }

  function clock(secs) {
    secs = Math.max(0, Math.ceil(secs));
    const h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
    const two = (n) => String(n).padStart(2, '0');
    return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
  }

  // --- State ---------------------------------------------------------------

  const S = {
    ws: null,
    nick: '',
    password: '',
    registered: false,
    wantClose: false,
    backoff: 1000,
    reconnectTimer: null,
    prefixes: { o: '@', v: '+' }, // mode letter -> prefix, from ISUPPORT PREFIX
    prefixOrder: '@+',
    chanmodes: { A: 'beI', B: 'k', C: 'lE', D: 'imnst' },
    chantypes: '#&',
    buffers: new Map(), // lowercased name -> buffer
    active: '*',
    keys: new Map(), // lowercased channel -> key, to rejoin after a reconnect
    rooms: [],
  };

  const lower = (s) => s.toLowerCase();
  const isChannel = (s) => S.chantypes.includes(s[0]);

  function buffer(name, kind) {
    const k = lower(name);
    let b = S.buffers.get(k);
    if (!b) {
      b = { name, kind: kind || (isChannel(name) ? 'channel' : 'dm'), lines: [], members: new Map(),
        topic: '', modes: new Set(), key: '', limit: '', ephemeral: null, deadline: null, unread: false,
        joined: false, notice: '' };
      S.buffers.set(k, b);
      renderTabs();
    }
    return b;
  }

  function add(name, line) {
    const b = buffer(name);
    b.lines.push(line);
    if (b.lines.length > 500) b.lines.shift();
    if (lower(name) === lower(S.active)) appendLine(line);
    else { b.unread = true; renderTabs(); }
  }

  const now = () => new Date();
  function event(name, text, cls) { add(name, { time: now(), kind: cls || 'event', text }); }

  // --- Rendering -----------------------------------------------------------

  function lineNode(l) {
    const t = l.time.toTimeString().slice(0, 5);
    const li = el('li', { class: `msg ${l.kind}` }, el('span', { class: 'time' }, t));
    if (l.kind === 'privmsg' || l.kind === 'notice') {
      li.appendChild(el('span', { class: 'from' }, l.kind === 'notice' ? `-${l.from}-` : `<${l.from}>`));
      li.appendChild(el('span', { class: 'text' }, l.text));
    } else if (l.kind === 'action') {
      li.appendChild(el('span', { class: 'text' }, `* ${l.from} ${l.text}`));
    } else {
      li.appendChild(el('span', { class: 'text' }, l.text));
    }
    return li;
  }

  function appendLine(l) {
    const list = $('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.appendChild(lineNode(l));
    while (list.childNodes.length > 500) list.removeChild(list.firstChild);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function renderTabs() {
    const ul = $('tabs');
    ul.replaceChildren();
    for (const b of S.buffers.values()) {
      const label = b.kind === 'server' ? 'Server' : b.name;
      const li = el('li', { class: 'tab' + (lower(b.name) === lower(S.active) ? ' active' : '') + (b.unread ? ' unread' : ''),
        'data-name': b.name, onclick: () => activate(b.name) }, el('span', {}, label));
      if (b.kind !== 'server') {
        li.appendChild(el('button', { class: 'close', type: 'button', title: 'Leave', 'aria-label': 'Leave',
          onclick: (e) => { e.stopPropagation(); leave(b); } }, '\u00d7'));
      }
      ul.appendChild(li);
    }
  }

  function renderHeader() {
    const b = S.buffers.get(lower(S.active));
    $('buffer-name').textContent = b ? (b.kind === 'server' ? 'Server' : b.name) : '';
    $('topic').textContent = b && b.topic ? b.topic : '';
    const n = $('notice');
    n.hidden = !(b && b.notice);
    n.textContent = b && b.notice ? b.notice : '';
    renderCountdown();
  }

  function renderMembers() {
    const b = S.buffers.get(lower(S.active));
    const ul = $('members');
    ul.replaceChildren();
    const isChan = b && b.kind === 'channel';
    $('people').classList.toggle('empty', !isChan);
    if (!isChan) { $('member-count').textContent = ''; $('ops').hidden = true; return; }
    const rank = (p) => { const i = S.prefixOrder.indexOf(p[0]); return i < 0 ? 99 : i; };
    const list = [...b.members.entries()].sort((x, y) =>
      rank(x[1]) - rank(y[1]) || lower(x[0]).localeCompare(lower(y[0])));
    for (const [nick, prefix] of list) {
      ul.appendChild(el('li', { 'data-nick': nick, onclick: () => { $('op-nick').value = nick; } },
        (prefix ? prefix[0] : '') + nick));
    }
    $('member-count').textContent = `(${b.members.size})`;
    const me = b.members.get(S.nick);
    $('ops').hidden = !(me && me.includes('@'));
    $('invite-only').checked = b.modes.has('i');
  }

  function renderCountdown() {
    const b = S.buffers.get(lower(S.active));
    const c = $('countdown');
    if (!b || !b.joined || !b.ephemeral || !b.deadline) { c.hidden = true; return; }
    c.hidden = false;
    c.textContent = `self-destructs in ${clock((b.deadline - Date.now()) / 1000)}`;
  }
  setInterval(renderCountdown, 250);

  function activate(name) {
    const b = buffer(name);
    S.active = b.name;
    b.unread = false;
    const list = $('messages');
    list.replaceChildren(...b.lines.map(lineNode));
    list.scrollTop = list.scrollHeight;
    renderTabs();
    renderHeader();
    renderMembers();
    $('app').classList.remove('show-side');
  }

  // --- Connection ----------------------------------------------------------

  function send(line) {
    if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(line);
  }

  function status(text) {
    $('conn-status').textContent = text;
    $('login-status').textContent = text;
  }

  function connect() {
    clearTimeout(S.reconnectTimer);
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
    status('Connecting…');
    const ws = new WebSocket(url, ['text.ircv3.net']);
    S.ws = ws;
    S.registered = false;
    ws.onopen = () => {
      status('Connected');
      if (S.password) send('PASS :' + S.password);
      send('NICK ' + S.nick);
      send('USER ' + S.nick.replace(/[^A-Za-z0-9]/g, '').slice(0, 10).toLowerCase() + 'x 0 * :web client');
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') handle(parse(e.data));
    };
    ws.onclose = () => {
      if (S.ws !== ws) return;
      S.ws = null;
      for (const b of S.buffers.values()) { b.members.clear(); b.joined = false; }
      renderMembers();
      renderCountdown();
      if (S.wantClose) { status('Disconnected'); return; }
      const wait = S.backoff;
      S.backoff = Math.min(S.backoff * 2, 30000);
      status(`Disconnected; reconnecting in ${Math.round(wait / 1000)}s`);
      S.reconnectTimer = setTimeout(connect, wait);
    };
  }

  // --- What the server says ------------------------------------------------

  function touch(b) {
    if (b.ephemeral) b.deadline = Date.now() + b.ephemeral * 1000;
    if (lower(b.name) === lower(S.active)) renderCountdown();
  }

  function setPrefix(b, nick, prefix, on) {
    if (!b.members.has(nick)) return;
    let p = b.members.get(nick).replace(prefix, '');
    if (on) p = [...(p + prefix)].sort((x, y) => S.prefixOrder.indexOf(x) - S.prefixOrder.indexOf(y)).join('');
    b.members.set(nick, p);
  }

  // Applies a channel MODE change: prefixes, the flags the admin panel
  // shows, and +E (the self-destruct clock).
  function applyModes(b, modes, args) {
    let on = true;
    for (const ch of modes) {
      if (ch === '+' || ch === '-') { on = ch === '+'; continue; }
      let arg;
      if (S.prefixes[ch] || S.chanmodes.A.includes(ch) || S.chanmodes.B.includes(ch) ||
          (on && S.chanmodes.C.includes(ch))) arg = args.shift();
      if (S.prefixes[ch]) setPrefix(b, arg, S.prefixes[ch], on);
      else if (ch === 'E') {
        b.ephemeral = on ? seconds(arg) : null;
        b.deadline = null;
        if (on) touch(b);
        b.notice = on ? `${b.name} is ephemeral: nothing said here is logged, and it self-destructs after ${arg} without messages.` : '';
      } else if (!S.chanmodes.A.includes(ch)) {
        if (on) b.modes.add(ch); else b.modes.delete(ch);
        if (ch === 'k') b.key = on ? arg : '';
        if (ch === 'l') b.limit = on ? arg : '';
      }
    }
  }

  function removeMember(nick, fn) {
    for (const b of S.buffers.values()) if (b.members.delete(nick) && fn) fn(b);
  }

  // The channel is gone for us (kicked, parted, self-destructed).
  function gone(b, why) {
    b.joined = false;
    b.members.clear();
    b.deadline = null;
    event('*', why);
    S.buffers.delete(lower(b.name));
    if (lower(S.active) === lower(b.name)) activate('*');
    else renderTabs();
  }

  function handle(m) {
    const p = m.params;
    const me = (n) => lower(n) === lower(S.nick);
    switch (m.command) {
      case 'PING': send('PONG :' + (p[0] || '')); return;
      case '001':
        S.registered = true;
        S.nick = p[0];
        S.backoff = 1000;
        $('login').hidden = true;
        $('app').hidden = false;
        event('*', p[1] || 'Welcome');
        for (const [chan, key] of S.keys) send(`JOIN ${chan}${key ? ' ' + key : ''}`);
        renderHeader();
        return;
      case '005':
        for (const t of p.slice(1, -1)) {
          const [k, v] = t.split('=');
          if (k === 'PREFIX' && v) {
            const mm = /^\(([^)]*)\)(.*)$/.exec(v);
            if (mm) {
              S.prefixes = {};
              [...mm[1]].forEach((c, i) => { S.prefixes[c] = mm[2][i]; });
              S.prefixOrder = mm[2];
            }
          } else if (k === 'CHANMODES' && v) {
            const [A, B, C, D] = v.split(',');
            S.chanmodes = { A: A || '', B: B || '', C: C || '', D: D || '' };
          } else if (k === 'CHANTYPES' && v) S.chantypes = v;
        }
        return;
      case '433':
        if (!S.registered) { S.nick = S.nick.slice(0, 28) + '_'; send('NICK ' + S.nick); }
        else event(S.active, `Nickname ${p[1]} is already in use`, 'error');
        return;
      case '464':
        S.wantClose = true;
        status('Wrong password');
        return;
      case 'ERROR':
        status(p[0] || 'Disconnected');
        if (!S.registered) { S.wantClose = /banned|Bad password/i.test(p[0] || ''); }
        event('*', p[0] || 'ERROR', 'error');
        return;
      case 'NICK': {
        const to = p[0];
        if (me(m.nick)) S.nick = to;
        for (const b of S.buffers.values()) {
          if (b.members.has(m.nick)) {
            const pre = b.members.get(m.nick);
            b.members.delete(m.nick);
            b.members.set(to, pre);
            event(b.name, `${m.nick} is now known as ${to}`);
          }
        }
        renderMembers();
        return;
      }
      case 'JOIN': {
        const b = buffer(p[0], 'channel');
        if (me(m.nick)) {
          b.joined = true;
          b.members.clear();
          send('MODE ' + p[0]);
          activate(b.name);
        }
        b.members.set(m.nick, '');
        touch(b);
        event(b.name, `${m.nick} joined`);
        renderMembers();
        return;
      }
      case 'PART': {
        const b = buffer(p[0], 'channel');
        if (me(m.nick)) { gone(b, `You left ${b.name}`); return; }
        b.members.delete(m.nick);
        event(b.name, `${m.nick} left${p[1] ? ' (' + p[1] + ')' : ''}`);
        renderMembers();
        return;
      }
      case 'KICK': {
        const b = buffer(p[0], 'channel');
        const why = p[2] || '';
        if (me(p[1])) {
          S.keys.delete(lower(b.name));
          gone(b, m.nick.includes('.') ? `${b.name} is gone: ${why}` : `You were kicked from ${b.name} by ${m.nick}${why ? ': ' + why : ''}`);
          return;
        }
        b.members.delete(p[1]);
        event(b.name, `${p[1]} was kicked by ${m.nick}${why ? ': ' + why : ''}`);
        renderMembers();
        return;
      }
      case 'QUIT':
        removeMember(m.nick, (b) => event(b.name, `${m.nick} quit${p[0] ? ' (' + p[0] + ')' : ''}`));
        renderMembers();
        return;
      case 'MODE': {
        if (!isChannel(p[0])) return;
        const b = buffer(p[0], 'channel');
        applyModes(b, p[1] || '', p.slice(2));
        event(b.name, `${m.nick} sets mode ${p.slice(1).join(' ')}`);
        renderMembers();
        renderHeader();
        return;
      }
      case '324': {
        const b = buffer(p[1], 'channel');
        b.modes.clear();
        applyModes(b, p[2] || '', p.slice(3));
        renderMembers();
        renderHeader();
        return;
      }
      case '332': { const b = buffer(p[1], 'channel'); b.topic = p[2] || ''; renderHeader(); return; }
      case 'TOPIC': {
        const b = buffer(p[0], 'channel');
        b.topic = p[1] || '';
        event(b.name, `${m.nick} set the topic: ${b.topic}`);
        renderHeader();
        return;
      }
      case '353': {
        const b = buffer(p[2], 'channel');
        for (const entry of (p[3] || '').split(' ').filter(Boolean)) {
          let i = 0;
          while (i < entry.length && S.prefixOrder.includes(entry[i])) i++;
          b.members.set(entry.slice(i).split('!')[0], entry.slice(0, i));
        }
        renderMembers();
        return;
      }
      case '322':
        S.rooms.push({ name: p[1], users: p[2], topic: p[3] || '' });
        return;
      case '323': renderRooms(); return;
      case '341': event(S.active, `Invited ${p[1]} to ${p[2]}`); return;
      case 'INVITE':
        event('*', `${m.nick} invites you to ${p[1]}`);
        event(S.active, `${m.nick} invites you to ${p[1]}: /join ${p[1]}`);
        return;
      case 'PRIVMSG':
      case 'NOTICE': {
        const target = p[0];
        let text = p[1] || '';
        const fromServer = !m.source.includes('!');
        let name = isChannel(target) ? target : (me(target) ? m.nick : target);
        if (fromServer && !isChannel(target)) name = '*';
        const b = buffer(name);
        if (isChannel(target) && !fromServer) touch(b);
        if (fromServer && isChannel(target)) {
          // The server's notices about the room: ephemeral, idle warnings.
          const e = /self-destructs after (\S+) without/.exec(text);
          if (e) { b.ephemeral = seconds(e[1]); b.notice = text; touch(b); renderHeader(); }
          const w = /self-destructs in (\S+) unless/.exec(text);
          if (w && seconds(w[1]) !== null) { b.deadline = Date.now() + seconds(w[1]) * 1000; renderCountdown(); }
        }
        if (m.command === 'PRIVMSG' && text.startsWith('\x01')) {
          text = text.replace(/^\x01|\x01$/g, '');
          if (text.startsWith('ACTION ')) { add(name, { time: now(), kind: 'action', from: m.nick, text: text.slice(7) }); return; }
          if (text === 'VERSION') send(`NOTICE ${m.nick} :\x01VERSION ircd web client\x01`);
          return;
        }
        add(name, { time: now(), kind: m.command === 'NOTICE' ? 'notice' : 'privmsg', from: m.nick || m.source, text });
        return;
      }
      default:
        if (/^[45]\d\d$/.test(m.command)) event(S.active, p.slice(1).join(' '), 'error');
        else if (/^(00[2-4]|25\d|26[56]|37[256]|42[22])$/.test(m.command)) event('*', p.slice(1).join(' '));
    }
  }

  function renderRooms() {
    const ul = $('room-list');
    ul.replaceChildren();
    for (const r of S.rooms.sort((a, b) => b.users - a.users)) {
      ul.appendChild(el('li', { 'data-room': r.name },
        el('button', { type: 'button', onclick: () => { $('join-channel').value = r.name; $('join-key').focus(); } }, r.name),
        el('span', { class: 'count' }, r.users),
        el('span', { class: 'rtopic' }, r.topic)));
    }
    if (!S.rooms.length) ul.appendChild(el('li', {}, 'No rooms yet: join one to create it.'));
  }

  // --- What the user does --------------------------------------------------

  function say(target, text) {
    send(`PRIVMSG ${target} :${text}`);
    const b = buffer(target);
    if (b.kind === 'channel') touch(b);
    add(target, { time: now(), kind: 'privmsg', from: S.nick, text });
  }

  function leave(b) {
    if (b.kind === 'channel' && b.joined) { S.keys.delete(lower(b.name)); send('PART ' + b.name); return; }
    S.buffers.delete(lower(b.name));
    if (lower(S.active) === lower(b.name)) activate('*'); else renderTabs();
  }

  function command(text) {
    const [cmd, ...rest] = text.slice(1).split(' ');
    const arg = rest.join(' ');
    const target = S.active;
    switch (cmd.toLowerCase()) {
      case 'me':
        send(`PRIVMSG ${target} :\x01ACTION ${arg}\x01`);
        add(target, { time: now(), kind: 'action', from: S.nick, text: arg });
        if (buffer(target).kind === 'channel') touch(buffer(target));
        return;
      case 'msg': case 'query': {
        const [to, ...words] = rest;
        if (!to) return;
        buffer(to);
        activate(to);
        if (words.length) say(to, words.join(' '));
        return;
      }
      case 'join': {
        const [chan, key] = rest;
        if (!chan) return;
        S.keys.set(lower(chan), key || '');
        send(`JOIN ${chan}${key ? ' ' + key : ''}`);
        return;
      }
      case 'part': case 'leave': leave(buffer(target)); return;
      case 'topic': send(`TOPIC ${target} :${arg}`); return;
      case 'nick': send('NICK ' + rest[0]); return;
      case 'kick': send(`KICK ${target} ${rest[0]} :${rest.slice(1).join(' ')}`); return;
      case 'invite': send(`INVITE ${rest[0]} ${rest[1] || target}`); return;
      case 'quit': S.wantClose = true; send('QUIT :' + arg); return;
      case 'raw': case 'quote': send(arg); return;
      case 'help':
        event(target, 'Commands: /me text, /msg nick text, /join #room [key], /part, /topic text, /nick name, /kick nick [reason], /invite nick, /quit');
        return;
      default: send(text.slice(1));
    }
  }

  // --- Wiring --------------------------------------------------------------

  function ready() {
    buffer('*', 'server');
    activate('*');
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      S.nick = $('nick').value.trim().replace(/\s+/g, '');
      S.password = $('password').value;
      S.wantClose = false;
      S.backoff = 1000;
      connect();
    });
    $('input-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const text = $('input').value;
      $('input').value = '';
      if (!text) return;
      if (text.startsWith('/') && !text.startsWith('//')) command(text);
      else if (S.active !== '*') say(S.active, text.startsWith('//') ? text.slice(1) : text);
    });
    $('join-form').addEventListener('submit', (e) => {
      e.preventDefault();
      let chan = $('join-channel').value.trim();
      if (!chan) return;
      if (!isChannel(chan)) chan = '#' + chan;
      const key = $('join-key').value.trim();
      S.keys.set(lower(chan), key);
      send(`JOIN ${chan}${key ? ' ' + key : ''}`);
      $('join-channel').value = '';
      $('join-key').value = '';
    });
    $('list-btn').addEventListener('click', () => { S.rooms = []; send('LIST'); });
    $('rooms').addEventListener('toggle', () => { if ($('rooms').open) { S.rooms = []; send('LIST'); } });
    $('menu').addEventListener('click', () => $('app').classList.toggle('show-side'));
    const opNick = () => $('op-nick').value.trim();
    $('kick-btn').addEventListener('click', () => { if (opNick()) send(`KICK ${S.active} ${opNick()} :Kicked`); });
    $('ban-btn').addEventListener('click', () => {
      if (!opNick()) return;
      send(`MODE ${S.active} +b ${opNick()}!*@*`);
      send(`KICK ${S.active} ${opNick()} :Banned`);
    });
    $('invite-btn').addEventListener('click', () => { if (opNick()) send(`INVITE ${opNick()} ${S.active}`); });
    $('opme-btn').addEventListener('click', () => { if (opNick()) send(`MODE ${S.active} +o ${opNick()}`); });
    $('op-key').addEventListener('submit', (e) => {
      e.preventDefault();
      const k = $('key-input').value.trim();
      if (k) send(`MODE ${S.active} +k ${k}`);
    });
    $('unkey-btn').addEventListener('click', () => send(`MODE ${S.active} -k *`));
    $('op-limit').addEventListener('submit', (e) => {
      e.preventDefault();
      const n = parseInt($('limit-input').value, 10);
      if (n > 0) send(`MODE ${S.active} +l ${n}`);
    });
    $('unlimit-btn').addEventListener('click', () => send(`MODE ${S.active} -l`));
    $('invite-only').addEventListener('change', (e) => send(`MODE ${S.active} ${e.target.checked ? '+' : '-'}i`));
    // Closing a room: ChanServ CLOSE destroys it at once, the way an idle
    // room self-destructs: everyone is kicked, nothing of it is left.
    $('close-btn').addEventListener('click', () => {
      const b = S.buffers.get(lower(S.active));
      if (!b || b.kind !== 'channel' || !confirm(`Close ${b.name} for everyone?`)) return;
      S.keys.delete(lower(b.name));
      send(`CS CLOSE ${b.name} The room was closed`);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
