# shellcheck shell=bash
# Helpers for the web integration scripts (browser.sh, irc_framework.sh,
# haproxy.sh), on top of lib.sh. Source it after lib.sh.
#
#   web_start_server [EXTRA_TOML]   # TCP $IT_PORT, WebSocket $WS_PORT, PROXY $PROXY_PORT
#   web_node_check                  # node and integration/node/node_modules are there

WEB_NODE_DIR="$IT_LIB_DIR/node"

web_start_server() {
    local extra=${1:-} attempt end
    mkdir -p "$IT_TMP/server"
    for attempt in 1 2 3 4 5; do
        IT_PORT=$(it_free_port)
        WS_PORT=$(it_free_port)
        PROXY_PORT=$(it_free_port)
        {
            printf '[server]\nname = "irc.test"\nnetwork = "TestNet"\ndata_dir = "data"\n\n'
            printf '[[listen]]\naddress = "127.0.0.1:%s"\n\n' "$IT_PORT"
            printf '[[listen]]\naddress = "127.0.0.1:%s"\nwebsocket = true\n\n' "$WS_PORT"
            printf '[[listen]]\naddress = "127.0.0.1:%s"\nproxy = true\n\n' "$PROXY_PORT"
            printf '[channels]\nmin_idle_timeout = "1s"\nwarn_before = "2s"\n\n'
            printf '%s\n' "$extra"
        } >"$IT_TMP/server/ircd.toml"
        "$IRCD_BIN" --config "$IT_TMP/server/ircd.toml" >"$IT_TMP/server/stdout.log" 2>"$IT_TMP/server/stderr.log" &
        IT_SERVER_PID=$!
        IT_PIDS+=("$IT_SERVER_PID")
        end=$((SECONDS + 10))
        while ((SECONDS < end)); do
            if ! kill -0 "$IT_SERVER_PID" 2>/dev/null; then break; fi
            if grep -q "listening" "$IT_TMP/server/stderr.log" 2>/dev/null; then
                it_log "server pid $IT_SERVER_PID: TCP $IT_PORT, WebSocket $WS_PORT, PROXY $PROXY_PORT"
                return 0
            fi
            sleep 0.05
        done
        if grep -q "Address already in use" "$IT_TMP/server/stderr.log" 2>/dev/null; then
            IT_SERVER_PID=""
            continue
        fi
        it_fail "server did not start: $(tail -n 5 "$IT_TMP/server/stderr.log")"
    done
    it_fail "could not find free ports"
}

web_node_check() {
    command -v node >/dev/null || it_fail "node not found"
    [[ -d "$WEB_NODE_DIR/node_modules/playwright-core" && -d "$WEB_NODE_DIR/node_modules/irc-framework" ]] ||
        it_fail "run: npm install --prefix $WEB_NODE_DIR (done by .ci/run)"
}
