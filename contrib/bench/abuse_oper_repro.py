#!/usr/bin/env python3
"""Reproduction: wrong OPER attempts cost the server a bcrypt each (cost 12,
against a dummy hash when the name is unknown), 3 per connection, with no
per-address limit beyond the connection throttle, so a few registered
clients stall everyone.

  taskset -c 0 target/release/ircd --config contrib/soak/soak.toml &
  taskset -c 1 python3 contrib/bench/abuse_oper_repro.py 4

An observer times PING/PONG (quiet, then while N clients from 127.0.4.x each
send three OPER lines); prints both distributions and how long the N
clients waited for their three 464 replies."""
import socket, sys, threading, time

ADDR = ("127.0.0.1", 16767)


def reg(nick, src="127.0.0.1"):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(ADDR)
    s.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :x\r\n".encode())
    buf = b""
    while b" 376 " not in buf and b" 422 " not in buf:
        buf += s.recv(65536)
    return s


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    obs = reg("obs")

    def rtt():
        t = time.time()
        obs.sendall(b"PING :x\r\n")
        b = b""
        while b"PONG" not in b:
            b += obs.recv(4096)
        return (time.time() - t) * 1000

    def show(name, v):
        v.sort()
        print(f"{name}: n={len(v)} p50 {v[len(v) // 2]:.2f} ms p99 {v[int(len(v) * .99)]:.2f} ms max {v[-1]:.2f} ms")

    quiet = []
    for _ in range(300):
        quiet.append(rtt())
        time.sleep(0.01)
    show("quiet PING round trip", quiet)

    def guesser(i):
        a = reg(f"a{i}", f"127.0.4.{i + 1}")
        t = time.time()
        a.sendall(b"OPER admin guess1\r\nOPER admin guess2\r\nOPER admin guess3\r\n")
        b = b""
        a.settimeout(60)
        while b"ERROR" not in b:
            x = a.recv(4096)
            if not x:
                break
            b += x
        print(f"guesser {i}: {time.time() - t:.2f} s for three 464 and {b.splitlines()[-1][:80]!r}")

    ths = [threading.Thread(target=guesser, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    during = []
    while any(t.is_alive() for t in ths):
        during.append(rtt())
        time.sleep(0.01)
    show(f"PING round trip while {n} clients send 3 OPER each", during)


main()
