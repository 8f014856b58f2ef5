#!/usr/bin/env bash
# One RESULTS.md pass: N=5000, K=100 and K=1000, each server back to back
# (server on CPU0, irc-loadgen on CPU1, by perftest's bench.sh). Before each
# run the machine's load (uptime) and its busiest processes (top) are kept
# next to the result, since other builders may share the box.
#
#   OUT=/tmp/perfrun/pass1 PREV=/tmp/ircd-after CUR=/tmp/ircd-perf contrib/bench/pass.sh
#
# Servers: ircd-prev (PREV with bench.toml; skipped if PREV is unset),
# ircd-hist (CUR with bench.toml: [history] on by default), ircd-nohist (CUR
# with bench-history-off.toml), InspIRCd 3.15 (Debian).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PERFTEST=${PERFTEST:-$HOME/perftest}
OUT=${OUT:?set OUT}
CUR=${CUR:?set CUR}
PREV=${PREV:-}
N=${N:-5000}
mkdir -p "$OUT"
# The previous binary gets its own data_dir (its store may predate this one's).
sed 's#^data_dir = .*#data_dir = "/tmp/ircd-bench-data-prev"#' "$HERE/bench.toml" > "$OUT/bench-prev.toml"
load() { { date -u +%FT%TZ; uptime; top -bn1 -w 200 | head -15; } > "$OUT/$1-N$N-K$2.load.txt"; }
for K in ${KS:-100 1000}; do
  if [ -n "$PREV" ]; then
    load custom-prev "$K"
    (cd "$PERFTEST" && OUT=$OUT SERVER=custom TAG=-prev CUSTOM_PORT=6667 SERVER_CMD="$PREV --config $OUT/bench-prev.toml" \
      N=$N K=$K timeout 600 ./bench.sh --connect-concurrency 500)
    sleep 2
  fi
  load custom-hist "$K"
  (cd "$PERFTEST" && OUT=$OUT SERVER=custom TAG=-hist CUSTOM_PORT=6667 SERVER_CMD="$CUR --config $HERE/bench.toml" \
    N=$N K=$K timeout 600 ./bench.sh --connect-concurrency 500)
  sleep 2
  load custom-nohist "$K"
  (cd "$PERFTEST" && OUT=$OUT SERVER=custom TAG=-nohist CUSTOM_PORT=6667 SERVER_CMD="$CUR --config $HERE/bench-history-off.toml" \
    N=$N K=$K timeout 600 ./bench.sh --connect-concurrency 500)
  sleep 2
  load inspircd "$K"
  (cd "$PERFTEST" && OUT=$OUT SERVER=inspircd N=$N K=$K timeout 600 ./bench.sh --connect-concurrency 500)
  sleep 2
done
