#!/usr/bin/env python3
"""A stand-in for the server binary that records what clients send it.

Use it as IRCD_BIN (irctest's run.sh, integration/lib.sh):

    IRCD_REAL_BIN=target/release/ircd IRCD_CAPTURE_DIR=/tmp/capture \
    IRCD_BIN=integration/fuzz_corpus/record_ircd.py integration/irctest/run.sh

Started as `record_ircd.py [--config FILE] [run]`, it writes a copy of FILE
next to it (`ircd-recorded.toml`, so relative paths still resolve) in which
every plaintext IRC listener (no `tls`, `websocket` or `proxy`) moves to a
free loopback port, starts the real server on that copy, and listens itself
on each original address: a TCP proxy that passes both directions through
unchanged and records the client -> server direction. Anything else
(`check-config`, `mkpasswd`, `init`, no `--config`) runs the real binary
as is.

One directory per server process, `$IRCD_CAPTURE_DIR/<time>-<pid>/`:
`test.txt` (pytest's PYTEST_CURRENT_TEST, when set) and one file per
connection, `conn-<n>.jsonl`: one JSON object per chunk read from the
client, `{"t": <seconds since the server started>, "d": "<base64>"}`.
Every chunk is written and flushed as it comes, so a SIGKILL of the process
group (irctest's way of stopping a server) loses nothing. Server -> client
bytes are not kept. SIGHUP regenerates the copy from FILE and is passed on
(rehash tests edit FILE); SIGTERM and SIGINT stop the server and exit.

Only for test traffic on loopback: what clients send is written to disk.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path


def config_arg(args: list[str]) -> tuple[int, Path] | None:
    """The index and value of `--config FILE` / `-c FILE` / `--config=FILE`."""
    for i, a in enumerate(args):
        if a in ("--config", "-c") and i + 1 < len(args):
            return i + 1, Path(args[i + 1])
        if a.startswith("--config="):
            return i, Path(a.split("=", 1)[1])
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain_listeners(text: str) -> list[str]:
    """The addresses of the plaintext IRC listeners of a config."""
    doc = tomllib.loads(text)
    out = []
    for listen in doc.get("listen", []):
        if listen.get("tls") or listen.get("websocket") or listen.get("proxy"):
            continue
        out.append(listen["address"])
    return out


def rewrite(text: str, moved: dict[str, str]) -> str:
    for old, new in moved.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    return text


class Recorder:
    def __init__(self, out: Path):
        self.out = out
        self.t0 = time.monotonic()
        self.n = 0

    def open(self):
        self.n += 1
        return open(self.out / f"conn-{self.n:04d}.jsonl", "w", buffering=1)

    def stamp(self) -> float:
        return round(time.monotonic() - self.t0, 6)


async def pump(reader, writer, log=None, rec=None):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if log is not None:
                log.write(
                    json.dumps({"t": rec.stamp(), "d": base64.b64encode(data).decode()})
                    + "\n"
                )
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass


async def upstream(host: str, port: int):
    """Connects to the real server, which may still be starting."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return await asyncio.open_connection(host, port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


def listen(address: str) -> socket.socket:
    """Binds a listening socket for `address` (before the real server starts,
    so that a client that waits for the server's "listening" finds it)."""
    host, port = address.rsplit(":", 1)
    host = host.strip("[]")
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, int(port)))
    except OSError as e:
        # The words integration/lib.sh looks for to retry with another port.
        print(f"record_ircd.py: binding {address}: Address already in use ({e})", file=sys.stderr)
        sys.exit(1)
    s.listen(1024)
    s.setblocking(False)
    return s


async def serve(
    socks: dict[str, socket.socket], moved: dict[str, str], rec: Recorder, child: subprocess.Popen
):
    async def handle(creader, cwriter, target):
        host, port = target.rsplit(":", 1)
        try:
            sreader, swriter = await upstream(host, int(port))
        except OSError:
            cwriter.close()
            return
        log = None
        try:
            # A connection that sends nothing (a port probe) leaves no file.
            first = await creader.read(65536)
            if first:
                log = rec.open()
                log.write(
                    json.dumps({"t": rec.stamp(), "d": base64.b64encode(first).decode()})
                    + "\n"
                )
                swriter.write(first)
                await swriter.drain()
                await asyncio.gather(
                    pump(creader, swriter, log, rec), pump(sreader, cwriter)
                )
        except (ConnectionError, OSError):
            pass
        finally:
            if log is not None:
                log.close()
            for w in (cwriter, swriter):
                try:
                    w.close()
                except OSError:
                    pass

    servers = []
    for old, new in moved.items():
        servers.append(
            await asyncio.start_server(lambda r, w, new=new: handle(r, w, new), sock=socks[old])
        )
    while child.poll() is None:
        await asyncio.sleep(0.1)
    for s in servers:
        s.close()
    return child.returncode


def main() -> int:
    real = os.environ.get("IRCD_REAL_BIN")
    if not real:
        print("record_ircd.py: set IRCD_REAL_BIN to the server binary", file=sys.stderr)
        return 2
    args = sys.argv[1:]
    found = config_arg(args)
    positional = [a for a in args if not a.startswith("-")]
    sub = next((a for a in positional if a != (str(found[1]) if found else None)), None)
    if found is None or sub not in (None, "run"):
        os.execv(real, [real, *args])
    index, path = found
    original = path.read_text()
    moved = {a: f"127.0.0.1:{free_port()}" for a in plain_listeners(original)}
    copy = path.parent / "ircd-recorded.toml"
    copy.write_text(rewrite(original, moved))
    args = list(args)
    if args[index].startswith("--config="):
        args[index] = f"--config={copy}"
    else:
        args[index] = str(copy)

    root = Path(os.environ.get("IRCD_CAPTURE_DIR", "/tmp/ircd-capture"))
    out = root / f"{time.time_ns()}-{os.getpid()}"
    out.mkdir(parents=True, exist_ok=True)
    test = os.environ.get("PYTEST_CURRENT_TEST")
    if test:
        (out / "test.txt").write_text(test + "\n")
    rec = Recorder(out)

    socks = {a: listen(a) for a in moved}
    child = subprocess.Popen([real, *args])

    def forward(sig, _frame):
        if sig == signal.SIGHUP:
            try:
                copy.write_text(rewrite(path.read_text(), moved))
            except (OSError, tomllib.TOMLDecodeError):
                pass
        if child.poll() is None:
            child.send_signal(sig)

    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    try:
        return asyncio.run(serve(socks, moved, rec, child)) or 0
    finally:
        if child.poll() is None:
            child.kill()


if __name__ == "__main__":
    sys.exit(main())
