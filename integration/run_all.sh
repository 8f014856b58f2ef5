#!/usr/bin/env bash
# Run every real-client integration script in sequence; PASS/FAIL per script;
# exit status 1 if any failed.
#
#   IRCD_BIN=/path/to/ircd integration/run_all.sh [script-name...]
#
# Without IRCD_BIN, the server is <repo>/target/release/ircd, brought up
# to date with `cargo build --release` first: after `cargo test --release`
# that file is the test build, with its test hooks (a command that panics
# on purpose); the build puts the shipped binary back (cached: well under a
# second). If IRCD_BIN is given and is an executable it is used as is;
# otherwise, if it looks like <target-dir>/release/ircd, the server is built
# once with CARGO_TARGET_DIR=<target-dir> cargo build --release.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
if [[ -z "${IRCD_BIN:-}" ]]; then
    echo "== cargo build --release (the shipped binary, not the test build)" >&2
    (cd "$REPO" && timeout 1800 cargo build --release) || { echo "FAIL: build failed" >&2; exit 2; }
fi
export IRCD_BIN=${IRCD_BIN:-$REPO/target/release/ircd}

SCRIPTS=(irssi weechat self_destruct weechat_sasl otr_room browser irc_framework haproxy homebox_init homebox_deb homebox_ansible znc hexchat matrix matrix_org_irc)
(($# > 0)) && SCRIPTS=("$@")

for tool in irssi weechat-headless tmux python3 timeout; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: required tool '$tool' not found" >&2
        exit 2
    fi
done

if [[ ! -x "$IRCD_BIN" ]]; then
    if [[ "$IRCD_BIN" == */release/ircd ]]; then
        echo "== $IRCD_BIN missing: building (CARGO_TARGET_DIR=${IRCD_BIN%/release/ircd})" >&2
        (cd "$REPO" && CARGO_TARGET_DIR=${IRCD_BIN%/release/ircd} timeout 1800 cargo build --release) ||
            { echo "FAIL: build failed" >&2; exit 2; }
    else
        echo "FAIL: IRCD_BIN=$IRCD_BIN is not an executable" >&2
        exit 2
    fi
fi

RESULTS=$(mktemp -d /tmp/it-results.XXXXXX)
echo "== server binary: $IRCD_BIN"
echo "== per-script logs: $RESULTS"

failed=0
summary=()
for name in "${SCRIPTS[@]}"; do
    script="$HERE/$name.sh"
    log="$RESULTS/$name.log"
    start=$(date +%s.%N)
    # Each script bounds itself; this outer bound is a second safety net.
    timeout -k 10 240 bash "$script" >"$log" 2>&1
    rc=$?
    dur=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    if ((rc == 0)); then
        line="PASS  $name  (${dur}s)"
    else
        line="FAIL  $name  (${dur}s, exit $rc, log $log)"
        failed=1
        echo "---- last lines of $log" >&2
        tail -n 60 "$log" >&2
    fi
    echo "$line"
    summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if ((failed)); then
    echo "== SOME TESTS FAILED (logs kept in $RESULTS)"
    exit 1
fi
rm -rf "$RESULTS"
echo "== ALL PASSED"
exit 0
