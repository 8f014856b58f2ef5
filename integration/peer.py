#!/usr/bin/env python3
"""Tiny IRC observer/peer used by the integration scripts (stdlib only).

Sub-commands:

  run    --port P --nick N --log FILE [--ctl FIFO] [--host H] [--caps "a b"]
         [--pass PASSWORD]
         Connect, register (PASS first when given: a bouncer's login), answer PINGs, append every received line (raw
         bytes, CR/LF stripped) to FILE, and send every line written to the
         control FIFO verbatim (plus CRLF).  A control line "@@quit" closes the
         connection.  Both directions are also written, with timestamps, to
         FILE.transcript (handy for bug reports).  Exits when the server closes
         the connection, on "@@quit", or after --lifetime seconds.

  wait   --log FILE --regex RE [--from N] [--timeout S]
         Poll FILE until a line with index >= N fully matches RE (a Python
         bytes regex; write \\x01 for CTCP delimiters).  Prints
         "<index>\\t<line>" and exits 0, or exits 1 after the deadline.

  absent --log FILE --regex RE [--from N] [--to M]
         Exit 0 if no line with index in [N, M) fully matches RE, else print
         the offending line and exit 1.

  count  --log FILE
         Print the number of complete lines in FILE.
"""

import argparse
import os
import re
import select
import socket
import sys
import time


def read_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    # Only complete (newline-terminated) lines count.
    return lines[:-1]


def show(b):
    return b.decode("utf-8", "backslashreplace").replace("\x01", "\\x01")


def cmd_run(a):
    log = open(a.log, "ab", buffering=0)
    tr = open(a.log + ".transcript", "ab", buffering=0)
    t0 = time.monotonic()

    def trace(direction, line):
        tr.write(b"%8.3f %s %s\n" % (time.monotonic() - t0, direction.encode(), line))

    deadline = time.monotonic() + 10
    while True:
        try:
            sock = socket.create_connection((a.host, a.port), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                trace("!!", b"connect failed")
                return 2
            time.sleep(0.1)
    sock.setblocking(False)

    def send(line):
        trace(">>", line)
        data = line + b"\r\n"
        sock.setblocking(True)
        sock.settimeout(5)
        sock.sendall(data)
        sock.setblocking(False)

    ctl = None
    if a.ctl:
        ctl = os.open(a.ctl, os.O_RDWR | os.O_NONBLOCK)

    if a.caps:
        send(b"CAP LS 302")
    if a.password:
        send(b"PASS " + a.password.encode())
    send(b"NICK " + a.nick.encode())
    send(b"USER " + (a.user or a.nick).encode() + b" 0 * :peer " + a.nick.encode())
    if a.caps:
        send(b"CAP REQ :" + a.caps.encode())
        send(b"CAP END")

    rbuf = b""
    cbuf = b""
    end = time.monotonic() + a.lifetime
    try:
        while time.monotonic() < end:
            fds = [sock] + ([ctl] if ctl is not None else [])
            r, _, _ = select.select(fds, [], [], 0.5)
            if sock in r:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    data = None
                if data is None:
                    pass
                elif not data:
                    trace("!!", b"connection closed by server")
                    return 0
                else:
                    rbuf += data
                    while b"\n" in rbuf:
                        line, rbuf = rbuf.split(b"\n", 1)
                        line = line.rstrip(b"\r")
                        trace("<<", line)
                        log.write(line + b"\n")
                        if line.startswith(b"PING"):
                            send(b"PONG" + line[4:])
            if ctl is not None and ctl in r:
                try:
                    cbuf += os.read(ctl, 65536)
                except BlockingIOError:
                    pass
                while b"\n" in cbuf:
                    line, cbuf = cbuf.split(b"\n", 1)
                    if line == b"@@quit":
                        trace("!!", b"@@quit")
                        sock.close()
                        return 0
                    if line:
                        send(line)
        trace("!!", b"lifetime exceeded")
        return 3
    except OSError as e:
        trace("!!", ("error: %r" % e).encode())
        return 4


def cmd_wait(a):
    rx = re.compile(a.regex.encode("utf-8", "surrogateescape"), re.S)
    end = time.monotonic() + a.timeout
    while True:
        lines = read_lines(a.log)
        for i in range(a.start, len(lines)):
            if rx.fullmatch(lines[i]):
                print("%d\t%s" % (i, show(lines[i])))
                return 0
        if time.monotonic() > end:
            sys.stderr.write("peer.py wait: no line matching %r in %s (from line %d) within %ss\n"
                             % (a.regex, a.log, a.start, a.timeout))
            return 1
        time.sleep(0.05)


def cmd_absent(a):
    rx = re.compile(a.regex.encode("utf-8", "surrogateescape"), re.S)
    lines = read_lines(a.log)
    stop = len(lines) if a.to is None else min(a.to, len(lines))
    for i in range(a.start, stop):
        if rx.fullmatch(lines[i]):
            print("%d\t%s" % (i, show(lines[i])))
            return 1
    return 0


def cmd_count(a):
    print(len(read_lines(a.log)))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--nick", required=True)
    r.add_argument("--user")
    r.add_argument("--log", required=True)
    r.add_argument("--ctl")
    r.add_argument("--caps", default="")
    r.add_argument("--pass", dest="password", default="")
    r.add_argument("--lifetime", type=float, default=300)
    w = sub.add_parser("wait")
    w.add_argument("--log", required=True)
    w.add_argument("--regex", required=True)
    w.add_argument("--from", dest="start", type=int, default=0)
    w.add_argument("--timeout", type=float, default=10)
    ab = sub.add_parser("absent")
    ab.add_argument("--log", required=True)
    ab.add_argument("--regex", required=True)
    ab.add_argument("--from", dest="start", type=int, default=0)
    ab.add_argument("--to", type=int)
    c = sub.add_parser("count")
    c.add_argument("--log", required=True)
    a = p.parse_args()
    return {"run": cmd_run, "wait": cmd_wait, "absent": cmd_absent, "count": cmd_count}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
