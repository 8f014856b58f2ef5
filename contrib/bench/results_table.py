#!/usr/bin/env python3
"""The RESULTS.md table of one pass made by pass.sh: results_table.py DIR [N]

Columns: every server found in DIR (ircd-prev, ircd-hist, ircd-nohist,
inspircd), then ratios hist/prev, hist/nohist and hist/InspIRCd.
"""
import json
import os
import sys

d = sys.argv[1]
n = sys.argv[2] if len(sys.argv) > 2 else "5000"
servers = [("custom-prev", "ircd-prev"), ("custom-hist", "ircd hist on"),
           ("custom-nohist", "ircd hist off"), ("inspircd", "InspIRCd 3.15")]
data = {}
for tag, _ in servers:
    for k in ("100", "1000"):
        p = os.path.join(d, f"{tag}-N{n}-K{k}.json")
        if os.path.exists(p):
            data[(tag, k)] = json.load(open(p))
present = [(t, name) for t, name in servers if any((t, k) in data for k in ("100", "1000"))]


def get(tag, k, *path):
    x = data.get((tag, k))
    for p in path:
        if x is None:
            return None
        x = x[p] if isinstance(x, list) and isinstance(p, int) and p < len(x) else (
            x.get(p) if isinstance(x, dict) else None)
    return x


def final_mb(tag, k):
    a, b = get(tag, k, "server_baseline", "rss_kb"), get(tag, k, "server_final", "rss_kb")
    return None if a is None or b is None else (b - a) / 1024


def lost(tag, k):
    x = data.get((tag, k))
    if x is None:
        return None
    return sum(f["lost"] for f in x.get("fanout", [])), x.get("join", {}).get("dead", 0)


rows = [
    ("RSS per idle registered client, K=100 run / K=1000 run", "KB",
     [lambda t: get(t, "100", "connect", "server_rss_per_client_kb"),
      lambda t: get(t, "1000", "connect", "server_rss_per_client_kb")], 2),
    ("RSS per client after JOIN storm, K=100", "KB", [lambda t: get(t, "100", "join", "server_rss_per_client_kb")], 2),
    ("RSS per client after JOIN storm, K=1000", "KB", [lambda t: get(t, "1000", "join", "server_rss_per_client_kb")], 2),
    ("RSS after the saturated phase, above the empty server, K=100 / K=1000", "MB",
     [lambda t: final_mb(t, "100"), lambda t: final_mb(t, "1000")], 1),
    ("registrations/s (K=100)", "", [lambda t: get(t, "100", "connect", "registrations_per_sec")], 0),
    ("saturated deliveries/s, K=100", "M", [lambda t: (get(t, "100", "fanout", 2, "deliveries_per_sec") or 0) / 1e6], 2),
    ("saturated deliveries/s, K=1000", "M", [lambda t: (get(t, "1000", "fanout", 2, "deliveries_per_sec") or 0) / 1e6], 2),
    ("server CPU per delivery, K=100", "us", [lambda t: get(t, "100", "fanout", 2, "server_cpu_us_per_delivery")], 2),
    ("server CPU per delivery, K=1000", "us", [lambda t: get(t, "1000", "fanout", 2, "server_cpu_us_per_delivery")], 2),
    ("one message to 100 members, all got it, p50 / p99", "ms",
     [lambda t: get(t, "100", "fanout", 0, "all_members_latency", "p50_ms"),
      lambda t: get(t, "100", "fanout", 0, "all_members_latency", "p99_ms")], 2),
    ("one message to 1000 members, all got it, p50 / p99", "ms",
     [lambda t: get(t, "1000", "fanout", 0, "all_members_latency", "p50_ms"),
      lambda t: get(t, "1000", "fanout", 0, "all_members_latency", "p99_ms")], 2),
]


def fmt(v, dec):
    if v is None:
        return "-"
    return f"{v:,.{dec}f}"


tags = [t for t, _ in present]
ratios = [(a, b, f"{dict(present)[a].split()[0]} on / {dict(present)[b]}") for a, b in
          (("custom-hist", "custom-prev"), ("custom-hist", "custom-nohist"), ("custom-hist", "inspircd"))
          if a in tags and b in tags]
ratio_names = {"custom-prev": "hist on / prev", "custom-nohist": "on / off", "inspircd": "on / InspIRCd"}
print("| metric | " + " | ".join(name for _, name in present) + " | " +
      " | ".join(ratio_names[b] for _, b, _ in ratios) + " |")
print("|---" * (1 + len(present) + len(ratios)) + "|")
for label, unit, fs, dec in rows:
    cells = []
    for t in tags:
        vs = [f(t) for f in fs]
        cells.append(" / ".join(fmt(v, dec) for v in vs) + (f" {unit}" if unit and any(v is not None for v in vs) else ""))
    rcells = []
    for a, b, _ in ratios:
        rs = []
        for f in fs:
            va, vb = f(a), f(b)
            rs.append(f"{va / vb:.2f}x" if va is not None and vb else "-")
        rcells.append(" / ".join(rs))
    print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(rcells) + " |")
cells = []
for t in tags:
    ls = [lost(t, k) for k in ("100", "1000")]
    cells.append(" ; ".join(f"{x[0]} / {x[1]}" if x else "-" for x in ls))
print("| lost messages / dropped clients, K=100 ; K=1000 | " + " | ".join(cells) + " |" + " |" * len(ratios))
