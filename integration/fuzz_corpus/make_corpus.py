#!/usr/bin/env python3
"""Turns the captures of record_ircd.py into seed inputs for each fuzz target.

    make_corpus.py CAPTURE_DIR OUT_DIR

CAPTURE_DIR holds one directory per server process (one irctest test, or one
integration script's server), each with one `conn-<n>.jsonl` per connection
(chunks of client -> server bytes with their time). OUT_DIR gets one folder
per target of fuzz/Cargo.toml, each input named by its SHA-1 (so reruns and
duplicates collapse):

- `codec_parse/`: each connection's bytes as they were sent (at most 20,000,
  the length the README runs it with);
- `roundtrip/`: each distinct line (without CR LF), and without its tags
  when it had some (the target only round-trips untagged lines);
- `mask/`: `mask NUL text` for every parameter that looks like a mask (has
  `*`, `?` or `!`), against every `nick!user@127.0.0.1` of the same test;
- `dispatch/`: each connection's lines after its registration (leading CAP
  LS/END, NICK, USER, PASS, AUTHENTICATE and WEBIRC lines dropped; the
  target registers its own client), joined by LF;
- `connections/`: the connections of one test in groups of three, in the
  order they connected; their lines after registration (as for `dispatch`,
  but a CAP REQ is kept) interleaved in the order they were sent, each piece
  `'0'`/`'1'`/`'2'` (its client, byte % 3; `'3'`/`'4'`/`'5'`, a barrier,
  where the speaker changes) + the line, each client's registered nick
  replaced by `$0`/`$1`/`$2` (the target's nicks).

irctest's own synchronisation (`PING synchronize...`, the `QUIT :chkport`
port probe) is left out of the line-based targets.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

CODEC_MAX = 20000
REGISTRATION = {"NICK", "USER", "PASS", "AUTHENTICATE", "WEBIRC"}
NICK_CHARS = r"A-Za-z0-9\[\]\\`_^{|}\-"


def command_of(line: bytes) -> str:
    """The command of a raw line (tags and source skipped), upper case."""
    words = line.split(b" ")
    i = 0
    while i < len(words) and (words[i].startswith((b"@", b":")) or not words[i]):
        i += 1
    return words[i].decode("latin-1").upper() if i < len(words) else ""


def params_of(line: bytes) -> list[bytes]:
    words = line.split(b" ")
    while words and (words[0].startswith((b"@", b":")) or not words[0]):
        words.pop(0)
    out = []
    for i, w in enumerate(words[1:], 1):
        if w.startswith(b":"):
            out.append(b" ".join(words[i:])[1:])
            break
        if w:
            out.append(w)
    return out


def is_noise(line: bytes) -> bool:
    return line.startswith(b"PING synchronize") or line == b"QUIT :chkport"


class Conn:
    def __init__(self, path: Path):
        self.chunks: list[tuple[float, bytes]] = []
        for row in path.read_text().splitlines():
            try:
                r = json.loads(row)
                self.chunks.append((r["t"], base64.b64decode(r["d"])))
            except (ValueError, KeyError):
                continue  # a line cut by a SIGKILL
        self.raw = b"".join(d for _, d in self.chunks)
        # (time, line without CR LF), a line timed by the chunk that ended it.
        self.lines: list[tuple[float, bytes]] = []
        pending = b""
        for t, d in self.chunks:
            pending += d
            *done, pending = pending.split(b"\n")
            for line in done:
                self.lines.append((t, line.removesuffix(b"\r")))
        if pending:
            self.lines.append((self.chunks[-1][0], pending))
        self.start = self.chunks[0][0] if self.chunks else 0.0
        self.nick = None
        self.body: list[tuple[float, bytes]] = []  # lines after registration
        registering = True
        for t, line in self.lines:
            cmd = command_of(line)
            if registering and (cmd in REGISTRATION or cmd == "CAP"):
                if cmd == "NICK" and params_of(line):
                    self.nick = params_of(line)[0].decode("utf-8", "replace")
                if cmd == "CAP" and b" REQ " in line.upper() + b" ":
                    self.body.append((t, line))
                continue
            registering = False
            if not is_noise(line) and line:
                self.body.append((t, line))

    def useful(self) -> bool:
        """Not irctest's port probe, and sends something."""
        if any(line == b"QUIT :chkport" for _, line in self.lines):
            return False
        return any(line.strip() and not is_noise(line) for _, line in self.lines)


def with_nicks(line: bytes, nicks: list[str | None]) -> bytes:
    text = line.decode("utf-8", "surrogateescape")
    for i, nick in enumerate(nicks):
        if nick:
            text = re.sub(
                rf"(?<![{NICK_CHARS}]){re.escape(nick)}(?![{NICK_CHARS}])", f"${i}", text
            )
    return text.encode("utf-8", "surrogateescape")


class Out:
    def __init__(self, root: Path):
        self.root = root
        self.count: dict[str, int] = {}

    def put(self, target: str, data: bytes) -> None:
        if not data:
            return
        d = self.root / target
        d.mkdir(parents=True, exist_ok=True)
        f = d / hashlib.sha1(data).hexdigest()
        if not f.exists():
            f.write_bytes(data)
            self.count[target] = self.count.get(target, 0) + 1


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    captures, out = Path(sys.argv[1]), Path(sys.argv[2])
    o = Out(out)
    runs = sorted(p for p in captures.iterdir() if p.is_dir())
    for run in runs:
        conns = [Conn(p) for p in sorted(run.glob("conn-*.jsonl"))]
        conns = sorted((c for c in conns if c.useful()), key=lambda c: c.start)
        nicks = [c.nick for c in conns if c.nick]
        for c in conns:
            o.put("codec_parse", c.raw[:CODEC_MAX])
            for _, line in c.lines:
                if not line or is_noise(line):
                    continue
                o.put("roundtrip", line)
                if line.startswith(b"@") and b" " in line:
                    o.put("roundtrip", line.split(b" ", 1)[1])
                for p in params_of(line):
                    if any(ch in p for ch in b"*?!"):
                        for n in nicks or ["nick"]:
                            o.put("mask", p + b"\0" + f"{n}!user@127.0.0.1".encode())
            body = [line for _, line in c.body if command_of(line) != "CAP"]
            o.put("dispatch", b"\n".join(body))
        for g in range(0, len(conns), 3):
            group = conns[g : g + 3]
            names = [c.nick for c in group]
            pieces = sorted(
                (t, i, n, line)
                for i, c in enumerate(group)
                for n, (t, line) in enumerate(c.body)
            )
            # '0'-'2' name the client; '3'-'5' the same clients behind a
            # barrier (the target first waits for the answers to all that
            # was sent): used where the speaker changes, so the scene runs
            # in the order it was recorded.
            scene = b"\n".join(
                str(i if k and pieces[k - 1][1] == i else i + 3).encode()
                + with_nicks(line, names)
                for k, (_, i, _, line) in enumerate(pieces)
            )
            o.put("connections", scene)
    print(f"{len(runs)} captured servers -> {out}:")
    for target, n in sorted(o.count.items()):
        print(f"  {target}: {n} inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
