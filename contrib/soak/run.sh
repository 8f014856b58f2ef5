#!/usr/bin/env bash
# The soak: ./contrib/soak/run.sh [SECONDS] [ircd-soak soak options...]
# Builds the release server and the load tool, starts the server (CPU0) with
# contrib/soak/soak.toml, runs the soak (CPU1) for SECONDS (default 600),
# prints the summary, stops the server and exits non-zero if a criterion
# fails (RSS or fds not flat within 5 % after warm-up, a lost message, a
# panic, the server gone). Results in $OUT (default /tmp/ircd-soak-<time>).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DURATION=${1:-600}
shift || true
OUT=${OUT:-/tmp/ircd-soak-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
. "$ROOT/contrib/soak/lib.sh"

[ "${NO_BUILD:-0}" = 1 ] || build || exit 2
raise_fd_limit
start_server || exit 2
trap 'kill -TERM $SERVER_PID 2>/dev/null' EXIT
machine_report
echo "== soak for $DURATION s (results in $OUT)"
"${NICE[@]}" timeout $((DURATION + 600)) taskset -c "$TOOL_CPU" "$TOOL" soak --addr "$ADDR" --pid "$SERVER_PID" \
    --duration "$DURATION" --out "$OUT" "$@" | tee "$OUT/soak-report.md"
RC=${PIPESTATUS[0]}
machine_report
stop_server
trap - EXIT
echo
echo "| criterion | result |"
echo "|---|---|"
echo "| load tool's criteria (RSS, fds, lost messages) | $([ "$RC" = 0 ] && echo PASS || echo "FAIL (exit $RC)") |"
echo "| 0 panics in the server's stderr | $([ "$PANICS" = 0 ] && echo PASS || echo "FAIL ($PANICS)") |"
echo "| server alive until stopped | $([ "$ALIVE" = 1 ] && echo PASS || echo FAIL) |"
[ "$RC" = 0 ] && [ "$PANICS" = 0 ] && [ "$ALIVE" = 1 ]
