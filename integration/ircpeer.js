// A raw TCP IRC peer for the node integration scripts (browser.js,
// irc_framework.js): registers, answers PING, and waits for lines matching
// a regular expression. Node's standard library only.
'use strict';
const net = require('net');

class Peer {
  constructor(port, nick) {
    this.port = port;
    this.nick = nick;
    this.lines = [];
    this.waiters = [];
    this.buf = '';
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, '127.0.0.1', () => {
        this.send(`NICK ${this.nick}`);
        this.send(`USER ${this.nick} 0 * :Peer ${this.nick}`);
        this.expect(new RegExp(`^:\\S+ 001 ${this.nick} `)).then(resolve, reject);
      });
      this.sock.setNoDelay(true);
      this.sock.on('error', reject);
      this.sock.on('data', (d) => {
        this.buf += d.toString('utf8');
        let i;
        while ((i = this.buf.indexOf('\n')) >= 0) {
          const line = this.buf.slice(0, i).replace(/\r$/, '');
          this.buf = this.buf.slice(i + 1);
          if (line.startsWith('PING ')) this.send('PONG ' + line.slice(5));
          this.lines.push(line);
          this.check();
        }
      });
    });
  }

  send(line) { this.sock.write(line + '\r\n'); }

  check() {
    this.waiters = this.waiters.filter((w) => {
      for (let i = w.from; i < this.lines.length; i++) {
        if (w.rx.test(this.lines[i])) { clearTimeout(w.timer); w.resolve(this.lines[i]); return false; }
      }
      w.from = this.lines.length;
      return true;
    });
  }

  // Resolves with the first line (from the mark on) matching rx.
  expect(rx, ms = 10000) {
    return new Promise((resolve, reject) => {
      const w = { rx, from: this.mark || 0, resolve };
      w.timer = setTimeout(() => reject(new Error(`${this.nick}: no line matching ${rx} within ${ms}ms; last lines:\n` +
        this.lines.slice(-15).join('\n'))), ms);
      this.waiters.push(w);
      this.check();
    });
  }

  // Later expects only look at lines received from now on.
  markNow() { this.mark = this.lines.length; }

  close() { if (this.sock) this.sock.destroy(); }
}

module.exports = { Peer };
