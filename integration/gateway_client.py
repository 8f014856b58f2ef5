#!/usr/bin/env python3
"""Raw IRC clients for integration/haproxy.sh (stdlib only).

  gateway_client.py whois PORT SOURCE_IP NICK [WEBIRC_LINE]
      Connect to 127.0.0.1:PORT from SOURCE_IP, optionally send a WEBIRC
      line first, register as NICK, WHOIS oneself; print "host ip" (from 311
      and 338) and exit 0.
  gateway_client.py hold PORT SOURCE_IP NICK COUNT
      Open COUNT connections from SOURCE_IP and register them one after the
      other; print, for each, "ok" or the ERROR text, then keep them open
      until stdin closes.
"""

import socket
import sys


def connect(port, source):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def lines(s):
    buf = b""
    while True:
        data = s.recv(4096)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.rstrip(b"\r").decode("utf-8", "replace")


def register(s, nick, first=None):
    if first:
        s.sendall(first.encode() + b"\r\n")
    s.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    for line in lines(s):
        parts = line.split(" ")
        if line.startswith("PING"):
            s.sendall(b"PONG " + line[5:].encode() + b"\r\n")
        elif len(parts) > 1 and parts[1] in ("376", "422"):
            return "ok"
        elif parts[0] == "ERROR":
            return line
    return "closed"


def main():
    cmd, port, source, nick = sys.argv[1:5]
    port = int(port)
    if cmd == "whois":
        first = sys.argv[5] if len(sys.argv) > 5 else None
        s = connect(port, source)
        r = register(s, nick, first)
        if r != "ok":
            print(r)
            return 1
        s.sendall(f"WHOIS {nick}\r\n".encode())
        host = ip = None
        for line in lines(s):
            parts = line.split(" ")
            if parts[1] == "311":
                host = parts[5]
            elif parts[1] == "338":
                ip = parts[4]
            elif parts[1] == "318":
                break
        print(host, ip)
        return 0
    if cmd == "hold":
        held = []
        for i in range(int(sys.argv[5])):
            s = connect(port, source)
            print(register(s, f"{nick}{i}"), flush=True)
            held.append(s)
        sys.stdin.read()
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
