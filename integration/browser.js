// The built-in web client in a real browser: headless Chromium from Debian
// (/usr/bin/chromium) driven by playwright-core, which never downloads a
// browser of its own. A raw TCP peer is the other side of the conversation.
//
//   node browser.js WS_PORT TCP_PORT ARTIFACT_DIR
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, 'node', 'node_modules', 'playwright-core'));
const { Peer } = require('./ircpeer');

const [wsPort, tcpPort, artifacts] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const XSS = '<img src=x onerror="window.__pwned=1">';

const step = (s) => console.error(`[browser.js] -- ${s}`);

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const peers = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('dialog', (d) => { errors.push('dialog: ' + d.message()); d.dismiss(); });

    step('the peer creates a keyed room');
    const bob = new Peer(Number(tcpPort), 'tcpbob');
    peers.push(bob);
    await bob.connect();
    bob.send('JOIN #secret');
    await bob.expect(/ 366 tcpbob #secret /);
    bob.send('MODE #secret +k hunter2');
    await bob.expect(/MODE #secret \+k hunter2/);

    step('the page loads from the server and sets a nick');
    await page.goto(`http://127.0.0.1:${wsPort}/`);
    await page.fill('#nick', 'webby');
    await page.click('#connect');
    await page.waitForSelector('#app:not([hidden])', { timeout: 10000 });

    step('the room list shows #secret');
    await page.click('#rooms summary');
    await page.waitForSelector('#room-list li[data-room="#secret"]', { timeout: 10000 });

    step('join the keyed room');
    bob.markNow();
    await page.fill('#join-channel', '#secret');
    await page.fill('#join-key', 'hunter2');
    await page.click('#join-btn');
    await bob.expect(/^:webby!\S+ JOIN #secret/);
    await page.waitForSelector('#members li[data-nick="tcpbob"]', { timeout: 10000 });
    const bobEntry = await page.textContent('#members li[data-nick="tcpbob"]');
    if (bobEntry !== '@tcpbob') throw new Error(`member list shows ${JSON.stringify(bobEntry)}, not @tcpbob`);

    step('messages and /me both ways');
    await page.fill('#input', 'hello from the browser');
    await page.press('#input', 'Enter');
    await bob.expect(/^:webby!\S+ PRIVMSG #secret :hello from the browser$/);
    await page.fill('#input', '/me waves');
    await page.press('#input', 'Enter');
    await bob.expect(/^:webby!\S+ PRIVMSG #secret :\x01ACTION waves\x01$/);
    bob.send('PRIVMSG #secret :hi web');
    bob.send('PRIVMSG #secret :\x01ACTION nods\x01');
    await page.waitForSelector('#messages li.privmsg:has-text("hi web")');
    await page.waitForSelector('#messages li.action:has-text("* tcpbob nods")');

    step('markup in a message stays text');
    bob.send(`PRIVMSG #secret :${XSS}`);
    await page.waitForSelector(`#messages li.privmsg:has-text('<img src=x')`);
    const shown = await page.$$eval('#messages li.privmsg .text', (els) => els.map((e) => e.textContent));
    if (!shown.includes(XSS)) throw new Error(`the message is not shown as text: ${JSON.stringify(shown)}`);
    const imgs = await page.$$eval('#messages img', (els) => els.length);
    const pwned = await page.evaluate(() => window.__pwned);
    if (imgs !== 0 || pwned) throw new Error(`message text became markup (imgs=${imgs}, pwned=${pwned})`);

    step('a DM opens its own tab');
    bob.send('PRIVMSG webby :psst, a secret');
    await page.waitForSelector('#tabs li[data-name="tcpbob"]');
    await page.click('#tabs li[data-name="tcpbob"]');
    await page.waitForSelector('#messages li.privmsg:has-text("psst, a secret")');
    await page.fill('#input', 'got it');
    await page.press('#input', 'Enter');
    await bob.expect(/^:webby!\S+ PRIVMSG tcpbob :got it$/);

    step('a KICK shows');
    const carol = new Peer(Number(tcpPort), 'carol');
    peers.push(carol);
    await carol.connect();
    carol.send('JOIN #secret hunter2');
    await carol.expect(/ 366 carol #secret /);
    await page.click('#tabs li[data-name="#secret"]');
    await page.waitForSelector('#members li[data-nick="carol"]');
    bob.send('KICK #secret carol :behave');
    await page.waitForSelector('#messages li:has-text("carol was kicked by tcpbob: behave")');
    await page.waitForSelector('#members li[data-nick="carol"]', { state: 'detached' });

    step('an operator in the browser: the admin panel kicks and sets +i');
    carol.send('JOIN #secret hunter2');
    await page.waitForSelector('#members li[data-nick="carol"]');
    bob.markNow();
    bob.send('MODE #secret +o webby');
    await page.waitForSelector('#ops:not([hidden])');
    await page.click('#members li[data-nick="carol"]');
    await page.click('#kick-btn');
    await bob.expect(/^:webby!\S+ KICK #secret carol :Kicked$/);
    await page.check('#invite-only');
    await bob.expect(/^:webby!\S+ MODE #secret \+i$/);

    step('the topic shows');
    bob.send('TOPIC #secret :plans for friday');
    await page.waitForSelector('#topic:has-text("plans for friday")');

    step('the self-destruct countdown, then the room vanishes');
    bob.send('MODE #secret +E 6s');
    await page.waitForSelector('#countdown:not([hidden])', { timeout: 10000 });
    await page.waitForSelector('#notice:has-text("is ephemeral")');
    const first = await page.textContent('#countdown');
    if (!/^self-destructs in 0:0[0-6]$/.test(first)) throw new Error(`countdown shows ${JSON.stringify(first)}`);
    await page.waitForTimeout(2500);
    const later = await page.textContent('#countdown');
    const secs = (t) => Number(/(\d+)$/.exec(t)[1]);
    if (!(secs(later) < secs(first))) throw new Error(`the countdown does not move: ${first} -> ${later}`);
    await page.screenshot({ path: path.join(artifacts, 'browser-countdown.png') });
    step(`countdown: ${first} -> ${later}; screenshot in ${artifacts}`);
    await page.waitForSelector('#tabs li[data-name="#secret"]', { state: 'detached', timeout: 15000 });
    await page.waitForSelector('#messages li:has-text("#secret is gone")');
    await page.screenshot({ path: path.join(artifacts, 'browser-vanished.png') });

    step('a phone-sized screen');
    await page.setViewportSize({ width: 390, height: 760 });
    await page.click('#menu');
    await page.waitForSelector('#sidebar', { state: 'visible' });
    await page.screenshot({ path: path.join(artifacts, 'browser-phone.png') });

    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    step('PASS');
  } finally {
    for (const p of peers) p.close();
    await browser.close();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
