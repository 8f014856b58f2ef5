#!/usr/bin/python3
"""Run a command under the seccomp part of a systemd unit, where systemd
itself cannot run (systemd is not PID 1 in the test sandbox):

  homebox_sandbox.py UNIT -- COMMAND [ARGS...]

From UNIT's [Service] lines it builds what systemd would load:
SystemCallFilter= (allow list, then ~ removals; groups expanded with
`systemd-analyze syscall-filter`), SystemCallErrorNumber=, the native
architecture only, RestrictAddressFamilies= (socket() families) and
MemoryDenyWriteExecute= (no mapping both writable and executable). Then it
execs COMMAND. Run it after dropping privileges (setpriv --no-new-privs),
as systemd applies the filter after User=.

Needs Debian's python3-seccomp (hence /usr/bin/python3).
"""
import errno
import os
import re
import socket
import subprocess
import sys

import seccomp


def groups():
    """Every @group of this systemd, with its direct members."""
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True
    ).stdout
    table, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.strip()
            table[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            table[current].append(line.strip())
    return table


def expand(names, table, seen=None):
    seen = set() if seen is None else seen
    calls = set()
    for n in names:
        if n.startswith("@"):
            if n in seen:
                continue
            seen.add(n)
            if n not in table:
                sys.exit(f"homebox_sandbox: unknown group {n}")
            calls |= expand(table[n], table, seen)
        else:
            calls.add(n)
    return calls


def service_settings(path):
    settings = {}
    section = None
    for line in open(path):
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            settings.setdefault(k, []).append(v)
    return settings


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    unit, command = sys.argv[1], sys.argv[3:]
    s = service_settings(unit)
    table = groups()

    allowed = set()
    for v in s.get("SystemCallFilter", []):
        if v.startswith("~"):
            allowed -= expand(v[1:].split(), table)
        else:
            allowed |= expand(v.split(), table)
    if not allowed:
        sys.exit("homebox_sandbox: no SystemCallFilter= allow list in the unit")
    errno_name = (s.get("SystemCallErrorNumber") or ["EPERM"])[-1]
    deny = seccomp.ERRNO(getattr(errno, errno_name))

    families = set()
    for v in s.get("RestrictAddressFamilies", []):
        families |= {getattr(socket, f) for f in v.split()}
    mdwe = (s.get("MemoryDenyWriteExecute") or ["no"])[-1] in ("yes", "true", "1")

    f = seccomp.SyscallFilter(defaction=deny)
    PROT_WRITE, PROT_EXEC = 0x2, 0x4
    special = {"socket"} if families else set()
    if mdwe:
        special |= {"mmap", "mprotect", "pkey_mprotect"}
    unknown = 0
    for call in sorted(allowed - special):
        try:
            f.add_rule(seccomp.ALLOW, call)
        except (RuntimeError, ValueError, OSError):
            unknown += 1  # not a syscall of this architecture
    if families:
        for fam in sorted(families):
            f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, fam))
    if mdwe:
        prot = {"mmap": 2, "mprotect": 2, "pkey_mprotect": 2}
        for call, arg in prot.items():
            if call not in allowed:
                continue
            # Allowed unless the mapping is both writable and executable.
            f.add_rule(seccomp.ALLOW, call, seccomp.Arg(arg, seccomp.MASKED_EQ, PROT_EXEC, 0))
            f.add_rule(seccomp.ALLOW, call, seccomp.Arg(arg, seccomp.MASKED_EQ, PROT_WRITE, 0))
    f.load()
    print(
        f"homebox_sandbox: {len(allowed)} system calls allowed ({unknown} not on this"
        f" architecture), others -> {errno_name}; socket families {sorted(families)};"
        f" MemoryDenyWriteExecute={'yes' if mdwe else 'no'}",
        file=sys.stderr,
    )
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
