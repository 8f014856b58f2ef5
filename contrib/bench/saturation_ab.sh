#!/usr/bin/env bash
# The saturated phase only (FANOUT=4:16:8), N=5000, K=100 and K=1000, the
# servers alternated run by run, REPS repetitions: CPU per delivery and
# deliveries/s as medians, for a machine other builders load.
#   OUT=/tmp/perfrun/ab PREV=/tmp/ircd-after CUR=/tmp/ircd-perf REPS=3 contrib/bench/saturation_ab.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PERFTEST=${PERFTEST:-$HOME/perftest}
OUT=${OUT:?set OUT}; CUR=${CUR:?set CUR}; PREV=${PREV:?set PREV}
mkdir -p "$OUT"
sed 's#^data_dir = .*#data_dir = "/tmp/ircd-bench-data-prev"#' "$HERE/bench.toml" > "$OUT/bench-prev.toml"
for rep in $(seq 1 "${REPS:-3}"); do for K in 100 1000; do
  for s in prev hist nohist; do
    case $s in
      prev) CMD="$PREV --config $OUT/bench-prev.toml";;
      hist) CMD="$CUR --config $HERE/bench.toml";;
      nohist) CMD="$CUR --config $HERE/bench-history-off.toml";;
    esac
    { date -u +%FT%TZ; uptime; top -bn1 -w 200 | head -15; } > "$OUT/custom-$s-r$rep-N5000-K$K.load.txt"
    (cd "$PERFTEST" && OUT=$OUT SERVER=custom TAG=-$s-r$rep CUSTOM_PORT=6667 SERVER_CMD="$CMD" FANOUT="4:16:8" \
      N=5000 K=$K timeout 300 ./bench.sh --connect-concurrency 500) | grep -E 'fanout 4|rc='
    sleep 2
  done
done; done
