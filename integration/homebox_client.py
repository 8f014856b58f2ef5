#!/usr/bin/env python3
"""A tiny IRC client for the packaging tests: register, join, then either
leave or stay and record every line until the server closes the connection.

  homebox_client.py PORT NICK [--tls] [--join '#chan'] [--oper NAME:PASS]
                    [--hold LOGFILE] [--timeout S]

Exit 0 once registered (001), joined (366 for the channel) and, with --oper,
opered (381). With --hold, it then forks to the background, prints its PID
and keeps reading into LOGFILE until EOF.
"""
import argparse
import os
import socket
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("nick")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--join")
    ap.add_argument("--oper")
    ap.add_argument("--hold")
    ap.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()

    sock = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    if a.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    f = sock.makefile("rwb", buffering=0)

    def send(line):
        f.write(line.encode() + b"\r\n")

    send(f"NICK {a.nick}")
    send(f"USER {a.nick} 0 * :homebox test")
    want = {"001"}
    if a.join:
        send(f"JOIN {a.join}")
        want.add("366")
    if a.oper:
        name, password = a.oper.split(":", 1)
        send(f"OPER {name} {password}")
        want.add("381")
    deadline = time.time() + a.timeout
    seen = []

    def fail(why):
        # The transcript only when something went wrong.
        print("\n".join(seen), file=sys.stderr)
        sys.exit(f"{a.nick}: {why}")

    while want:
        if time.time() > deadline:
            fail(f"timed out still waiting for {sorted(want)}")
        raw = f.readline()
        if not raw:
            fail(f"connection closed, still waiting for {sorted(want)}")
        line = raw.decode(errors="replace").rstrip("\r\n")
        seen.append(f"{a.nick} <- {line}")
        words = line.split(" ")
        if words[0] == "PING" or (len(words) > 1 and words[1] == "PING"):
            send("PONG " + words[-1])
        if len(words) > 1 and words[1] in want:
            want.discard(words[1])
        if len(words) > 1 and words[1] in ("464", "491", "403", "471", "473", "474", "475"):
            fail(f"refused: {line}")
    print(f"{a.nick}: registered" + (f", joined {a.join}" if a.join else "")
          + (", opered" if a.oper else "") + (" (TLS)" if a.tls else ""), file=sys.stderr)
    if not a.hold:
        send("QUIT :done")
        return
    sys.stdout.flush()
    pid = os.fork()
    if pid:
        print(pid)
        return
    # Let the caller's $(...) finish: the child keeps no copy of its pipes.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sock.settimeout(None)
    with open(a.hold, "w") as log:
        while True:
            raw = f.readline()
            if not raw:
                break
            line = raw.decode(errors="replace").rstrip("\r\n")
            log.write(line + "\n")
            log.flush()
            if line.startswith("PING"):
                send("PONG " + line.split(" ")[-1])
        log.write("<closed>\n")
    os._exit(0)


if __name__ == "__main__":
    main()
