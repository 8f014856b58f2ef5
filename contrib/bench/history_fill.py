#!/usr/bin/env python3
"""history_fill.py: what full history rings cost, measured from outside.

Connects a few clients to a loopback IRC server, has them join C channels
(at most --per-client each; they are the only members), sends M messages of
--msg-size bytes of text into every channel, round-robin so the rings fill
evenly, and samples the server's VmRSS (/proc/PID/status) at each step:

  base       server started, nobody connected
  registered the clients registered
  joined     C channels exist (one member each; with history on, each ring
             holds that member's JOIN)
  round N    after M more messages per channel (every line was processed:
             each batch of --window lines ends with a PING whose PONG is
             awaited); with M >= [history] lines every ring is full after
             round 1, so later rounds show whether memory stays bounded
  parted     every channel left (a channel goes with its last member, and
             its ring with it)

Then one CHATHISTORY LATEST on the first channel counts what the ring holds
(before parting; skipped when the server does not offer draft/chathistory).

Bounded: loopback targets only, every wait has a timeout, the whole run
--max-secs. Standard library only. Example (the server pinned to CPU0):

  taskset -c 0 /tmp/ircd-perf --config contrib/bench/bench.toml & PID=$!
  taskset -c 1 python3 contrib/bench/history_fill.py --port 6667 --pid $PID \
      --channels 200 --messages 1000 --rounds 2 --json /tmp/hf.json
  kill $PID
"""

import argparse
import asyncio
import ipaddress
import json
import socket
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Client:
    def __init__(self, idx, nick, host, port, caps):
        self.idx = idx
        self.nick = nick
        self.host, self.port = host, port
        self.caps = caps
        self.registered = asyncio.Event()
        self.pongs = {}
        self.joined = set()
        self.join_waiters = None
        self.errors = {}
        self.history_lines = None
        self.history_done = asyncio.Event()
        self.history_batch = None
        self.offers_chathistory = False
        self.closed = asyncio.Event()
        self.quitting = False

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.task = asyncio.create_task(self.read_loop())
        if self.caps:
            self.send("CAP LS 302")
        self.send(f"NICK {self.nick}")
        self.send(f"USER {self.nick} 0 * :history_fill {self.idx}")

    def send(self, line):
        self.writer.write(line.encode() + b"\r\n")

    async def read_loop(self):
        try:
            while True:
                raw = await self.reader.readline()
                if not raw:
                    break
                self.handle(raw.decode(errors="replace").rstrip("\r\n"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            self.registered.set()
            self.history_done.set()

    def handle(self, line):
        tags = ""
        if line.startswith("@"):
            tags, _, line = line.partition(" ")
        if line.startswith(":"):
            _, _, line = line.partition(" ")
        parts = line.split(" ")
        cmd = parts[0]
        if cmd == "PING":
            self.send("PONG " + " ".join(parts[1:]))
        elif cmd == "PONG":
            tok = parts[-1].lstrip(":")
            ev = self.pongs.get(tok)
            if ev:
                ev.set()
        elif cmd == "CAP" and len(parts) > 2:
            sub = parts[2]
            if sub == "LS":
                offered = " ".join(parts[3:]).lstrip(":")
                if parts[3] == "*":
                    offered = " ".join(parts[4:]).lstrip(":")
                names = [c.split("=")[0] for c in offered.split()]
                if "draft/chathistory" in names:
                    self.offers_chathistory = True
                if parts[3] != "*":
                    if self.offers_chathistory:
                        self.send("CAP REQ :batch server-time message-tags draft/chathistory")
                    else:
                        self.send("CAP END")
            elif sub in ("ACK", "NAK"):
                if sub == "NAK":
                    self.offers_chathistory = False
                self.send("CAP END")
        elif cmd == "001":
            self.registered.set()
        elif cmd == "366" and len(parts) > 2:
            self.joined.add(parts[2].lower())
            if self.join_waiters and self.join_waiters[0] <= self.joined:
                self.join_waiters[1].set()
        elif cmd == "BATCH" and len(parts) > 1:
            ref = parts[1]
            if ref.startswith("+") and len(parts) > 2 and parts[2] == "chathistory":
                self.history_batch = ref[1:]
                self.history_lines = 0
            elif ref.startswith("-") and ref[1:] == self.history_batch:
                self.history_done.set()
        elif cmd == "PRIVMSG" and self.history_batch and f"batch={self.history_batch}" in tags:
            self.history_lines += 1
        elif cmd == "FAIL" or cmd == "421":
            self.errors[cmd] = self.errors.get(cmd, 0) + 1
            if "CHATHISTORY" in parts[1:3]:
                self.history_done.set()
        elif (cmd.isdigit() and cmd[0] == "4" and cmd != "422") or (cmd == "ERROR" and not self.quitting):
            self.errors[cmd] = self.errors.get(cmd, 0) + 1

    async def sync(self, tok, timeout):
        ev = asyncio.Event()
        self.pongs[tok] = ev
        self.send(f"PING :{tok}")
        await self.writer.drain()
        await asyncio.wait_for(ev.wait(), timeout)
        del self.pongs[tok]


async def run(a):
    host = "127.0.0.1"
    if not ipaddress.ip_address(socket.gethostbyname(a.host)).is_loopback:
        sys.exit("loopback targets only")
    samples = []

    async def sample(name, **extra):
        await asyncio.sleep(a.settle)
        r = rss_kb(a.pid)
        samples.append(dict(step=name, rss_kb=r, **extra))
        print(f"{name:>12}: VmRSS {r} kB {extra if extra else ''}", flush=True)
        return r

    await sample("base")
    nclients = (a.channels + a.per_client - 1) // a.per_client
    clients = [Client(i, f"{a.nick_prefix}{i}", host, a.port, caps=(i == 0)) for i in range(nclients)]
    for c in clients:
        await c.connect()
    await asyncio.wait_for(asyncio.gather(*(c.registered.wait() for c in clients)), a.timeout)
    if any(c.closed.is_set() for c in clients):
        sys.exit("a client was disconnected during registration")
    chans = {c.idx: [] for c in clients}
    for ch in range(a.channels):
        chans[ch // a.per_client].append(f"{a.chan_prefix}{ch}")
    await sample("registered", clients=nclients)

    for c in clients:
        want = {x.lower() for x in chans[c.idx]}
        c.join_waiters = (want, asyncio.Event())
        for x in chans[c.idx]:
            c.send(f"JOIN {x}")
        await c.writer.drain()
    await asyncio.wait_for(asyncio.gather(*(c.join_waiters[1].wait() for c in clients)), a.timeout)
    await sample("joined", channels=a.channels)

    # Text of --msg-size bytes that looks like chat, not one repeated byte.
    words = "the quick brown fox jumps over lazy dogs while we talk about irc servers and memory".split()

    def text(r, i, ch):
        s = f"r{r} m{i} c{ch}"
        w = 0
        while len(s) < a.msg_size:
            s += " " + words[(i + ch + w) % len(words)]
            w += 1
        return s[: a.msg_size]

    async def fill(c, r):
        n = 0
        for i in range(a.messages):
            for x in chans[c.idx]:
                c.send(f"PRIVMSG {x} :{text(r, i, int(x[len(a.chan_prefix):]))}")
                n += 1
                if n % a.window == 0:
                    await c.sync(f"r{r}n{n}", a.timeout)
        await c.sync(f"r{r}end", a.timeout)

    t_fill = 0.0
    for r in range(1, a.rounds + 1):
        t0 = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(fill(c, r) for c in clients)), a.timeout)
        dt = time.monotonic() - t0
        t_fill += dt
        if any(c.closed.is_set() for c in clients):
            sys.exit(f"a client was disconnected in round {r}: {[c.errors for c in clients]}")
        await sample(f"round {r}", messages_per_channel=a.messages * r, secs=round(dt, 2))

    ring = None
    c0 = clients[0]
    if c0.offers_chathistory:
        c0.send(f"CHATHISTORY LATEST {chans[0][0]} * {a.history_limit}")
        await c0.writer.drain()
        await asyncio.wait_for(c0.history_done.wait(), a.timeout)
        ring = c0.history_lines
        print(f"CHATHISTORY LATEST {chans[0][0]}: {ring} PRIVMSG lines", flush=True)

    for c in clients:
        for x in chans[c.idx]:
            c.send(f"PART {x}")
        await c.sync("parted", a.timeout)
    await sample("parted")
    for c in clients:
        c.quitting = True
        c.send("QUIT :history_fill done")
        await c.writer.drain()
    await asyncio.wait_for(asyncio.gather(*(c.closed.wait() for c in clients)), a.timeout)

    s = {x["step"]: x["rss_kb"] for x in samples}
    last = f"round {a.rounds}"
    kept = min(a.messages * a.rounds, a.lines)
    per_chan_empty = (s["joined"] - s["registered"]) / a.channels
    per_chan_full = (s["round 1"] - s["joined"]) / a.channels
    per_chan_last = (s[last] - s["joined"]) / a.channels
    result = dict(
        label=a.label,
        channels=a.channels,
        clients=nclients,
        messages_per_round=a.messages,
        rounds=a.rounds,
        msg_size=a.msg_size,
        ring_lines_assumed=a.lines,
        chathistory_latest_lines=ring,
        errors={k: v for c in clients for k, v in c.errors.items()},
        fill_secs=round(t_fill, 2),
        samples=samples,
        kb_per_empty_channel=per_chan_empty,
        kb_per_channel_after_round1=per_chan_full,
        kb_per_channel_after_last_round=per_chan_last,
        bytes_per_message_kept_round1=per_chan_full * 1024 / min(a.messages, a.lines),
        bytes_per_message_kept_last=per_chan_last * 1024 / kept,
        kb_returned_per_channel_after_part=(s[last] - s["parted"]) / a.channels,
    )
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True, help="server PID (for /proc/PID/status)")
    p.add_argument("--channels", type=int, default=200)
    p.add_argument("--messages", type=int, default=1000, help="per channel per round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--msg-size", type=int, default=80, help="bytes of text per message")
    p.add_argument("--per-client", type=int, default=50, help="channels per client (InspIRCd bench: maxchans 100)")
    p.add_argument("--window", type=int, default=500, help="lines sent before waiting for a PONG")
    p.add_argument("--lines", type=int, default=1000, help="the server's [history] lines (for the per-message figure)")
    p.add_argument("--history-limit", type=int, default=1000)
    p.add_argument("--settle", type=float, default=1.0, help="seconds before each RSS sample")
    p.add_argument("--timeout", type=float, default=120.0, help="bound on each wait")
    p.add_argument("--max-secs", type=float, default=600.0, help="bound on the whole run")
    p.add_argument("--nick-prefix", default="hf")
    p.add_argument("--chan-prefix", default="#hf")
    p.add_argument("--label", default="")
    p.add_argument("--json")
    a = p.parse_args()
    if min(a.channels, a.messages, a.rounds, a.per_client, a.window) < 1:
        sys.exit("counts must be at least 1")
    try:
        asyncio.run(asyncio.wait_for(run(a), a.max_secs))
    except asyncio.TimeoutError:
        sys.exit("timed out")


if __name__ == "__main__":
    main()
