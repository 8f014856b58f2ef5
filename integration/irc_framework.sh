#!/usr/bin/env bash
# irc-framework (npm, the library behind Kiwi IRC) over WebSocket from node,
# against the release binary (integration/irc_framework.js).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/web_lib.sh"
it_init irc_framework 60 "$@"
web_node_check
web_start_server
node --experimental-websocket "$IT_LIB_DIR/irc_framework.js" "$WS_PORT" "$IT_PORT" ||
    it_fail "irc_framework.js failed"
it_pass
