// A third-party client over WebSocket: irc-framework (the library behind
// Kiwi IRC) connects with its own WebSocket transport (text.ircv3.net), on
// node's WHATWG WebSocket (node 20: --experimental-websocket), registers
// with CAP negotiation, joins a room and exchanges messages with a raw TCP
// peer.
//
//   node --experimental-websocket irc_framework.js WS_PORT TCP_PORT
'use strict';
const path = require('path');
const modules = path.join(__dirname, 'node', 'node_modules');
const IRC = require(path.join(modules, 'irc-framework'));
const WsTransport = require(path.join(modules, 'irc-framework', 'src', 'transports', 'websocket'));
const { Peer } = require('./ircpeer');

const [wsPort, tcpPort] = process.argv.slice(2).map(Number);
const step = (s) => console.error(`[irc_framework.js] -- ${s}`);

function waitFor(client, event, pred, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms}ms`)), ms);
    const on = (e) => {
      if (!pred || pred(e)) { clearTimeout(timer); client.removeListener(event, on); resolve(e); }
    };
    client.on(event, on);
  });
}

async function main() {
  if (typeof WebSocket === 'undefined') throw new Error('no global WebSocket: run node with --experimental-websocket');
  const peer = new Peer(tcpPort, 'tcppeer');
  await peer.connect();
  peer.send('JOIN #kiwi');
  await peer.expect(/ 366 tcppeer #kiwi /);

  step('irc-framework connects over WebSocket');
  const client = new IRC.Client();
  const raw = [];
  client.on('raw', (e) => { if (e.from_server) raw.push(e.line); });
  const registered = waitFor(client, 'registered');
  client.connect({
    host: '127.0.0.1',
    port: wsPort,
    path: '/',
    nick: 'kiwiuser',
    username: 'kiwi',
    gecos: 'irc-framework over WebSocket',
    transport: WsTransport,
    websocket_protocol: 'text.ircv3.net',
    auto_reconnect: false,
    enable_echomessage: true,
  });
  await registered;
  step(`registered as ${client.user.nick}; caps ${client.network.cap.enabled.join(' ')}`);
  if (!client.network.cap.enabled.includes('echo-message')) throw new Error('CAP negotiation over WebSocket did not enable echo-message');

  const joined = waitFor(client, 'join', (e) => e.nick === 'kiwiuser' && e.channel === '#kiwi');
  const userlist = waitFor(client, 'userlist', (e) => e.channel === '#kiwi');
  client.join('#kiwi');
  await joined;
  const names = await userlist;
  const nicks = names.users.map((u) => (u.modes.includes('o') ? '@' : '') + u.nick).sort();
  step(`userlist: ${nicks.join(' ')}`);
  if (!nicks.includes('@tcppeer') || !nicks.includes('kiwiuser')) throw new Error(`bad userlist ${nicks}`);

  step('irc-framework -> TCP');
  client.say('#kiwi', 'hello from irc-framework');
  await peer.expect(/^:kiwiuser!\S+ PRIVMSG #kiwi :hello from irc-framework$/);
  client.action('#kiwi', 'dances');
  await peer.expect(/^:kiwiuser!\S+ PRIVMSG #kiwi :\x01ACTION dances\x01$/);

  step('TCP -> irc-framework');
  const got = waitFor(client, 'privmsg', (e) => e.nick === 'tcppeer');
  peer.send('PRIVMSG #kiwi :hello from tcp \u00e9');
  const m = await got;
  if (m.message !== 'hello from tcp \u00e9' || m.target !== '#kiwi') throw new Error(`got ${JSON.stringify(m)}`);
  const dm = waitFor(client, 'privmsg', (e) => e.target === 'kiwiuser');
  peer.send('PRIVMSG kiwiuser :a direct message');
  if ((await dm).message !== 'a direct message') throw new Error('DM lost');

  step('QUIT');
  client.quit('done');
  await peer.expect(/^:kiwiuser!\S+ QUIT :Quit: done$|^:kiwiuser!\S+ QUIT :done$/);
  peer.close();
  step(`PASS (${raw.length} lines from the server)`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
