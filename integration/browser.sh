#!/usr/bin/env bash
# The built-in web client in a real browser (integration/browser.js):
# Debian's headless Chromium driven by playwright-core joins a keyed room,
# talks with a raw TCP peer (messages, /me, a DM), sees a KICK, shows markup
# as text, counts down to self-destruct and sees the room vanish.
# Screenshots are kept in $IT_ARTIFACTS (default target/integration-artifacts).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/web_lib.sh"
it_init browser 120 "$@"

ARTIFACTS=${IT_ARTIFACTS:-$(cd "$IT_LIB_DIR/.." && pwd)/target/integration-artifacts}
mkdir -p "$ARTIFACTS"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[[ -x "$CHROMIUM" ]] || it_fail "$CHROMIUM not found (apt-get install chromium)"
web_node_check

web_start_server
it_step "browser.js (chromium $("$CHROMIUM" --version 2>/dev/null | head -1))"
CHROMIUM=$CHROMIUM node "$IT_LIB_DIR/browser.js" "$WS_PORT" "$IT_PORT" "$ARTIFACTS" ||
    it_fail "browser.js failed"
ls -l "$ARTIFACTS"/browser-*.png >&2
it_pass
