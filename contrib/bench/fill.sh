#!/usr/bin/env bash
# history_fill.py against each server in turn (server on CPU0, driver on CPU1):
#   OUT=/tmp/perfrun/fill1 PREV=/tmp/ircd-after CUR=/tmp/ircd-perf contrib/bench/fill.sh [history_fill args]
# Default: 200 channels, 1000 messages of 80 bytes per channel per round, 2 rounds.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:?set OUT}
CUR=${CUR:?set CUR}
PREV=${PREV:-}
mkdir -p "$OUT"
sed 's#^data_dir = .*#data_dir = "/tmp/ircd-bench-data-prev"#' "$HERE/bench.toml" > "$OUT/bench-prev.toml"
RENDER=$(mktemp -d)
cp "$HOME/perftest/configs/motd.txt" "$RENDER/"
sed "s#@CONFIGS@#$RENDER#g" "$HOME/perftest/configs/inspircd.conf" > "$RENDER/inspircd.conf"
one() {  # name port cmd...
  local name=$1 port=$2; shift 2
  { date -u +%FT%TZ; uptime; top -bn1 -w 200 | head -15; } > "$OUT/$name.load.txt"
  if ss -ltn "sport = :$port" | grep -q LISTEN; then echo "port $port in use"; return 1; fi
  taskset -c 0 "$@" > "$OUT/$name.server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
  sleep 0.5
  echo "== $name pid $pid; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  timeout 700 taskset -c 1 python3 "$HERE/history_fill.py" --port "$port" --pid "$pid" --label "$name" \
    --json "$OUT/$name.json" "${ARGS[@]}"
  echo "== rc=$?"
  kill "$pid"; wait "$pid" 2>/dev/null
  sleep 2
}
ARGS=("$@")
[ -n "$PREV" ] && one ircd-prev 6667 "$PREV" --config "$OUT/bench-prev.toml"
one ircd-hist 6667 "$CUR" --config "$HERE/bench.toml"
one ircd-nohist 6667 "$CUR" --config "$HERE/bench-history-off.toml"
one inspircd 16668 inspircd --config "$RENDER/inspircd.conf" --nofork --nopid --runasroot
rm -rf "$RENDER"
