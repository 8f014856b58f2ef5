#!/usr/bin/env bash
# Regenerates the fuzz seed corpus (fuzz/seeds/<target>/) from real client
# traffic: the irctest suite and the real-client integration scripts, run
# against the release binary through record_ircd.py (a recording proxy in
# front of each server they start), then make_corpus.py, then `cargo fuzz
# cmin` per target. See README.md in this folder.
#
#   integration/fuzz_corpus/capture.sh [extra pytest args...]
#
# Environment (all optional):
#   IRCD_REAL_BIN   the server binary (default <repo>/target/release/ircd,
#                   built when missing)
#   CAPTURE_DIR     where the raw captures go (default /tmp/ircd-capture;
#                   emptied first)
#   SEEDS_DIR       the minimized seeds (default <repo>/fuzz/seeds; each
#                   target's folder is replaced)
#   IRCTEST_MARKERS pytest -m for irctest (default 'not deprecated and not
#                   Sable', Sable's tests need its database; failing
#                   and implementation-specific tests send real traffic too)
#   IT_SCRIPTS      integration scripts to record (default below; '' = none)
#   SKIP_IRCTEST=1  record only the integration scripts
#   SKIP_CMIN=1     copy the seeds unminimized
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
IRCD_REAL_BIN="${IRCD_REAL_BIN:-$REPO/target/release/ircd}"
CAPTURE_DIR="${CAPTURE_DIR:-/tmp/ircd-capture}"
SEEDS_DIR="${SEEDS_DIR:-$REPO/fuzz/seeds}"
IT_SCRIPTS="${IT_SCRIPTS-irssi weechat weechat_sasl hexchat znc self_destruct otr_room}"
TARGETS=(codec_parse roundtrip mask dispatch connections)

if [ ! -x "$IRCD_REAL_BIN" ]; then
    echo "capture.sh: building $IRCD_REAL_BIN"
    (cd "$REPO" && timeout 1800 cargo build --release)
fi
IRCD_REAL_BIN="$(cd "$(dirname "$IRCD_REAL_BIN")" && pwd)/$(basename "$IRCD_REAL_BIN")"
rm -rf "$CAPTURE_DIR"
mkdir -p "$CAPTURE_DIR"
export IRCD_REAL_BIN IRCD_CAPTURE_DIR="$CAPTURE_DIR" IRCD_BIN="$HERE/record_ircd.py"

# A test or script that fails still sent real traffic: keep going.
if [ -z "${SKIP_IRCTEST:-}" ]; then
    IRCTEST_MARKERS="${IRCTEST_MARKERS:-not deprecated and not Sable}" \
    IRCTEST_TIMEOUT="${IRCTEST_TIMEOUT:-15}" \
    IRCTEST_JOBS="${IRCTEST_JOBS:-2}" \
    IRCTEST_OUT="${IRCTEST_OUT:-/tmp/irctest-capture}" \
        "$REPO/integration/irctest/run.sh" "$@" || echo "capture.sh: irctest exit status $? (its traffic is kept)"
fi
for s in $IT_SCRIPTS; do
    echo "capture.sh: integration/$s.sh"
    bash "$REPO/integration/$s.sh" >"$CAPTURE_DIR/../it-$s.log" 2>&1 ||
        echo "capture.sh: $s.sh failed (see $CAPTURE_DIR/../it-$s.log; its traffic is kept)"
done

RAW="$CAPTURE_DIR.seeds"
rm -rf "$RAW"
python3 "$HERE/make_corpus.py" "$CAPTURE_DIR" "$RAW"

for t in "${TARGETS[@]}"; do
    [ -d "$RAW/$t" ] || continue
    rm -rf "${SEEDS_DIR:?}/$t"
    mkdir -p "$SEEDS_DIR/$t"
    cp "$RAW/$t"/* "$SEEDS_DIR/$t/"
    [ -n "${SKIP_CMIN:-}" ] && continue
    case $t in
        codec_parse) args=(-max_len=20000) ;;
        mask) args=(-max_len=512) ;;
        *) args=() ;;
    esac
    (cd "$REPO/fuzz" && timeout 3600 cargo fuzz cmin -s none "$t" "$SEEDS_DIR/$t" -- "${args[@]}")
done
echo "capture.sh: seeds in $SEEDS_DIR:"
for t in "${TARGETS[@]}"; do
    [ -d "$SEEDS_DIR/$t" ] && echo "  $t: $(find "$SEEDS_DIR/$t" -type f | wc -l) files, $(du -sh "$SEEDS_DIR/$t" | cut -f1)"
done
