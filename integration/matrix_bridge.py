#!/usr/bin/env python3
"""Heisenbridge between Synapse and the IRC server, driven from both ends
(integration/matrix.sh starts the three; stdlib only).

    matrix_bridge.py --irc-port P --hs URL --secret REG_SECRET --server-name NAME
                     --log-dir DIR

The Matrix side is a real Matrix user (alice) talking to Synapse's
client-server API over HTTP (register with the shared secret, create rooms,
send events, /sync); the IRC side is a raw TCP client (bob). alice sets up
the bridge through its control room (ADDNETWORK, ADDSERVER, OPEN; then NICK,
SASL, CONNECT and JOIN in the network room), so Heisenbridge's own IRC
connection logs into alice's account with SASL PLAIN. Then, checked on both
sides:

  Matrix -> IRC: m.text -> PRIVMSG, m.emote -> CTCP ACTION, a two-line
  m.text -> two PRIVMSGs, a 1,100-byte m.text -> several PRIVMSGs that each
  fit in 512 bytes with the prefix bob sees, and rejoin to the text; a reply
  in the private room -> PRIVMSG bob.
  IRC -> Matrix: PRIVMSG -> m.text, ACTION -> m.emote, NOTICE -> m.notice
  (each from bob's puppet, byte-exact, UTF-8 included), a 400-byte line whole,
  a private message -> a new room alice is invited to, with the m.text.

Every wait is a bounded poll for a condition; exit status 0 on success.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

T0 = time.monotonic()


def log(msg):
    sys.stderr.write("[matrix_bridge %6.1fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


def fail(msg):
    log("FAILED: " + msg)
    sys.exit(1)


def wait_for(desc, pred, timeout=20.0):
    end = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > end:
            fail("timed out after %ss waiting for: %s" % (timeout, desc))
        time.sleep(0.05)


# ------------------------------------------------------------------ IRC side


class Irc:
    """A raw IRC client: every received line kept (and written to a log)."""

    def __init__(self, port, nick, logpath):
        self.nick = nick
        self.lines = []
        self.lock = threading.Lock()
        self.logf = open(logpath, "a", encoding="utf-8", errors="backslashreplace")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.settimeout(None)
        threading.Thread(target=self._reader, daemon=True).start()
        self.send("NICK " + nick)
        self.send("USER %s 0 * :raw IRC client %s" % (nick, nick))
        self.expect(r":\S+ 001 %s .*" % re.escape(nick))

    def send(self, line):
        self.logf.write("%8.3f >> %s\n" % (time.monotonic() - T0, line))
        self.logf.flush()
        self.sock.sendall(line.encode() + b"\r\n")

    def _reader(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.rstrip(b"\r").decode("utf-8", "backslashreplace")
                self.logf.write("%8.3f << %s\n" % (time.monotonic() - T0, line))
                self.logf.flush()
                if line.startswith("PING"):
                    self.send("PONG" + line[4:])
                with self.lock:
                    self.lines.append((line, len(raw) + 1))

    def mark(self):
        with self.lock:
            return len(self.lines)

    def find(self, rx, start=0):
        r = re.compile(rx, re.S)
        with self.lock:
            for i in range(start, len(self.lines)):
                if r.fullmatch(self.lines[i][0]):
                    return i, self.lines[i][0], self.lines[i][1]
        return None

    def expect(self, rx, start=0, timeout=20.0):
        got = wait_for("IRC %s gets /%s/" % (self.nick, rx), lambda: self.find(rx, start), timeout)
        log("irc %s got: %s" % (self.nick, got[1].replace("\x01", "\\x01")))
        return got


# --------------------------------------------------------------- Matrix side


class Matrix:
    """A Matrix user on the client-server API, with a /sync thread."""

    def __init__(self, hs, token, user_id):
        self.hs = hs.rstrip("/")
        self.token = token
        self.user_id = user_id
        self.events = []  # (room_id, event), in sync order
        self.invites = set()
        self.joined = set()
        self.lock = threading.Lock()
        self.txn = 0
        self.sync_error = None
        threading.Thread(target=self._sync_loop, daemon=True).start()

    @staticmethod
    def call(hs, method, path, body=None, token=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(hs + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s -> %s %s" % (method, path, e.code, e.read()[:300])) from None

    def api(self, method, path, body=None, timeout=30):
        return Matrix.call(self.hs, method, path, body, self.token, timeout)

    def _sync_loop(self):
        since = None
        while True:
            q = {"timeout": "2000"}
            if since:
                q["since"] = since
            try:
                res = self.api("GET", "/_matrix/client/v3/sync?" + urllib.parse.urlencode(q), timeout=30)
            except Exception as e:  # noqa: BLE001 - shown by the waits that time out
                self.sync_error = str(e)
                time.sleep(0.2)
                continue
            since = res.get("next_batch")
            rooms = res.get("rooms", {})
            with self.lock:
                for rid in rooms.get("invite", {}):
                    self.invites.add(rid)
                for rid, room in rooms.get("join", {}).items():
                    self.joined.add(rid)
                    for ev in room.get("timeline", {}).get("events", []):
                        self.events.append((rid, ev))

    def send(self, room_id, content):
        self.txn += 1
        txn = "t%d-%d" % (os.getpid(), self.txn)
        path = "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (urllib.parse.quote(room_id), txn)
        return self.api("PUT", path, content)["event_id"]

    def text(self, room_id, body, msgtype="m.text"):
        return self.send(room_id, {"msgtype": msgtype, "body": body})

    def join(self, room_id):
        self.api("POST", "/_matrix/client/v3/join/%s" % urllib.parse.quote(room_id), {})
        wait_for("alice is joined to %s" % room_id, lambda: room_id in self.joined)

    def mark(self):
        with self.lock:
            return len(self.events)

    def find(self, pred, start=0):
        with self.lock:
            for rid, ev in self.events[start:]:
                if pred(rid, ev):
                    return rid, ev
        return None

    def expect(self, desc, pred, start=0, timeout=20.0):
        got = wait_for("Matrix: " + desc + (" (sync error: %s)" % self.sync_error if self.sync_error else ""),
                       lambda: self.find(pred, start), timeout)
        log("matrix got in %s from %s: %s" % (got[0], got[1].get("sender"),
                                              json.dumps(got[1].get("content"))[:200]))
        return got

    def new_invite(self, known):
        with self.lock:
            fresh = self.invites - known
        return next(iter(fresh)) if fresh else None


def message(room, sender=None, msgtype=None, body=None, body_rx=None):
    """An event predicate: an m.room.message in ROOM (None: any) from SENDER..."""

    def pred(rid, ev):
        if ev.get("type") != "m.room.message" or (room is not None and rid != room):
            return False
        if sender is not None and ev.get("sender") != sender:
            return False
        c = ev.get("content", {})
        if msgtype is not None and c.get("msgtype") != msgtype:
            return False
        b = c.get("body", "")
        if body is not None and b != body:
            return False
        if body_rx is not None and not re.search(body_rx, b, re.S):
            return False
        return True

    return pred


def register(hs, secret, user, password):
    nonce = Matrix.call(hs, "GET", "/_synapse/admin/v1/register")["nonce"]
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]))
    res = Matrix.call(hs, "POST", "/_synapse/admin/v1/register",
                      {"nonce": nonce, "username": user, "password": password,
                       "admin": False, "mac": mac.hexdigest()})
    return res["access_token"], res["user_id"]


# ---------------------------------------------------------------------- test


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--irc-port", type=int, required=True)
    p.add_argument("--hs", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--server-name", required=True)
    p.add_argument("--log-dir", required=True)
    p.add_argument("--irc-password", required=True, help="alice's IRC account password (SASL)")
    a = p.parse_args()
    sn = a.server_name
    bot = "@heisenbridge:" + sn
    bob_puppet = "@irc_testnet_bob:" + sn

    log("bob (raw IRC) connects and joins #room")
    bob = Irc(a.irc_port, "bob", os.path.join(a.log_dir, "irc-bob.log"))
    bob.send("JOIN #room")
    bob.expect(r":bob!\S+ JOIN #room")

    log("alice registers on Synapse and opens a DM with the bridge bot")
    token, alice_id = register(a.hs, a.secret, "alice", "alice-matrix-pw-1")
    mx = Matrix(a.hs, token, alice_id)
    control = mx.api("POST", "/_matrix/client/v3/createRoom",
                     {"invite": [bot], "is_direct": True, "preset": "trusted_private_chat"})["room_id"]
    mx.join(control)
    mx.expect("the bridge bot answers in the control room",
              lambda rid, ev: rid == control and ev.get("sender") == bot and ev.get("type") == "m.room.message")

    def command(room, cmd, reply_rx, timeout=20.0):
        m = mx.mark()
        mx.text(room, cmd)
        return mx.expect("reply to %r" % cmd, message(room, sender=bot, body_rx=reply_rx), m, timeout)

    log("control room: ADDNETWORK, ADDSERVER, OPEN")
    command(control, "ADDNETWORK testnet", r"(?i)network testnet added|added")
    command(control, "ADDSERVER testnet 127.0.0.1 %d" % a.irc_port, r"(?i)server added")
    known = set(mx.invites)
    mx.text(control, "OPEN testnet")
    network = wait_for("an invitation to the network room", lambda: mx.new_invite(known))
    mx.join(network)

    log("network room: NICK, SASL, CONNECT")
    command(network, "NICK alice", r"(?i)nickname set to alice|alice")
    command(network, "SASL --username=alice --password=%s" % a.irc_password, r"(?i)sasl")
    m = mx.mark()
    mx.text(network, "CONNECT")
    mx.expect("Heisenbridge reports it is connected",
              message(network, sender=bot, body_rx=r"Connected from host|Connected for|Welcome"), m, 30)

    log("the bridge's IRC connection is logged in as alice (SASL)")
    i = bob.mark()
    bob.send("WHOIS alice")
    bob.expect(r":irc\.test 330 bob alice alice :is logged in as", i)
    bob.expect(r":irc\.test 318 bob alice :.*", i)

    log("network room: JOIN #room")
    known = set(mx.invites)
    i = bob.mark()
    mx.text(network, "JOIN #room")
    channel = wait_for("an invitation to the #room room", lambda: mx.new_invite(known), 30)
    mx.join(channel)
    _, join_line, _ = bob.expect(r":alice!\S+ JOIN #room", i)
    alice_prefix = join_line.split(" ", 1)[0]  # ":alice!user@host", as bob sees it

    # ------------------------------------------------------ Matrix -> IRC
    log("Matrix -> IRC: m.text")
    i = bob.mark()
    mx.text(channel, "hello from Matrix, ünïcödé ✓")
    bob.expect(re.escape(alice_prefix) + r" PRIVMSG #room :hello from Matrix, ünïcödé ✓", i)

    log("Matrix -> IRC: m.emote")
    i = bob.mark()
    mx.text(channel, "waves from Matrix", "m.emote")
    bob.expect(re.escape(alice_prefix) + r" PRIVMSG #room :\x01ACTION waves from Matrix\x01", i)

    log("Matrix -> IRC: a two-line m.text")
    i = bob.mark()
    mx.text(channel, "first line\nsecond line")
    j, _, _ = bob.expect(re.escape(alice_prefix) + r" PRIVMSG #room :first line", i)
    k, _, _ = bob.expect(re.escape(alice_prefix) + r" PRIVMSG #room :second line", i)
    if not j < k:
        fail("the two lines arrived out of order")

    # Heisenbridge paces its own lines (about 6 s for a full one), so 3 lines.
    log("Matrix -> IRC: a 1,100-byte m.text, split to fit 512 bytes")
    words = ["word%03d" % n for n in range(140)]  # 140 * 8 - 1 = 1119 bytes
    long_text = " ".join(words)
    i = bob.mark()
    mx.text(channel, long_text)
    bob.expect(re.escape(alice_prefix) + r" PRIVMSG #room :.*word139", i)
    with bob.lock:
        got = [(ln, size) for ln, size in bob.lines[i:] if ln.startswith(alice_prefix + " PRIVMSG #room :")]
    parts = []
    for ln, size in got:
        if size + 1 > 512:  # size counts LF, the server sent CR LF
            fail("a relayed line is %d bytes with CR LF, over 512: %r" % (size + 1, ln[:80]))
        parts.append(ln.split(" :", 1)[1])
    if len(parts) < 3:
        fail("a 1,119-byte message arrived in %d lines" % len(parts))
    joined = " ".join(x[:-3] if x.endswith("...") else x for x in parts)
    joined = re.sub(r"(^| )\.\.\. ", r"\1", joined)
    if joined.split() != words:
        fail("the split lines do not give back the message: %r" % parts)
    log("the long message came as %d lines of at most %d bytes (with prefix and CR LF)"
        % (len(parts), max(s + 1 for _, s in got)))

    # ------------------------------------------------------ IRC -> Matrix
    log("IRC -> Matrix: PRIVMSG -> m.text")
    m = mx.mark()
    bob.send("PRIVMSG #room :hello from IRC, ünïcödé ✓ <b>not html</b>")
    mx.expect("bob's message as m.text",
              message(channel, bob_puppet, "m.text", "hello from IRC, ünïcödé ✓ <b>not html</b>"), m)

    log("IRC -> Matrix: ACTION -> m.emote")
    m = mx.mark()
    bob.send("PRIVMSG #room :\x01ACTION waves from IRC\x01")
    mx.expect("bob's action as m.emote", message(channel, bob_puppet, "m.emote", "waves from IRC"), m)

    log("IRC -> Matrix: NOTICE -> m.notice")
    m = mx.mark()
    bob.send("NOTICE #room :a notice from IRC")
    mx.expect("bob's notice as m.notice", message(channel, bob_puppet, "m.notice", "a notice from IRC"), m)

    log("IRC -> Matrix: a 400-byte line arrives whole")
    long_irc = "x" * 190 + " " + "é" * 100 + " end"  # 190 + 1 + 200 + 4 bytes
    m = mx.mark()
    bob.send("PRIVMSG #room :" + long_irc)
    mx.expect("bob's long line", message(channel, bob_puppet, "m.text", long_irc), m)

    log("IRC -> Matrix: a private message opens a new room")
    known = set(mx.invites)
    m = mx.mark()
    bob.send("PRIVMSG alice :psst, a private word")
    query = wait_for("an invitation to a private room with bob", lambda: mx.new_invite(known), 30)
    mx.join(query)
    mx.expect("bob's private message in the new room",
              message(query, bob_puppet, "m.text", "psst, a private word"), m)

    log("Matrix -> IRC: the answer in the private room")
    i = bob.mark()
    mx.text(query, "a private answer")
    bob.expect(re.escape(alice_prefix) + r" PRIVMSG bob :a private answer", i)

    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
