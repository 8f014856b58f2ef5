#!/usr/bin/env bash
# Matrix end to end: Synapse (sqlite, only the client listener, no federation)
# and Heisenbridge (its appservice) from PyPI, all on 127.0.0.1, in front of
# the server. A raw peer registers the IRC account alice with NickServ; then
# integration/matrix_bridge.py is a Matrix user alice (HTTP on Synapse's
# client-server API) who sets up Heisenbridge through its bot rooms (it logs
# into alice's IRC account with SASL) and a raw IRC client bob, and checks
# m.text, m.emote, multi-line and long messages, PRIVMSG, ACTION, NOTICE and
# a private message both ways, on both sides.
# The venv comes from integration/matrix/venv.sh install (done by .ci/run).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/matrix/venv.sh"
it_init matrix 200 "$@"

matrix_venv_ready || it_fail "no Matrix venv at $MATRIX_VENV: run integration/matrix/venv.sh install (done by .ci/run)"
PY="$MATRIX_VENV/bin/python"
MX="$IT_TMP/matrix"
SERVER_NAME=matrix.test
IRC_PASSWORD="Hb-Sasl-Pw-$RANDOM$RANDOM"

it_extra_diagnostics() {
    echo "--- synapse log (last 30 lines)"
    tail -n 30 "$MX/homeserver.log" 2>/dev/null || true
    echo "--- synapse output (last 20 lines)"
    tail -n 20 "$MX/synapse.out" 2>/dev/null || true
    echo "--- heisenbridge output (last 40 lines)"
    tail -n 40 "$MX/heisenbridge.out" 2>/dev/null || true
    echo "--- raw IRC client bob (last 30 lines)"
    tail -n 30 "$MX/irc-bob.log" 2>/dev/null | sed 's/\x01/\\x01/g' || true
}

# A shared secret for Synapse's admin registration (alice's Matrix account).
REG_SECRET="reg-$RANDOM$RANDOM$RANDOM"

IT_SERVER_EXTRA_CONF=$'[services]\nbcrypt_cost = 4'
it_start_server

it_step "a raw client registers the IRC account alice with NickServ, then quits"
it_peer_start reg alice
it_peer_send reg "PRIVMSG NickServ :REGISTER $IRC_PASSWORD"
it_peer_expect reg ":NickServ!NickServ@services\. NOTICE alice :alice is now registered to you, and you are logged in\."
it_peer_send reg "QUIT :done"
it_poll 10 "the registering peer disconnects" bash -c "! kill -0 ${IT_PEER_PID[reg]} 2>/dev/null"

mkdir -p "$MX/media"
SYN_PORT=$(it_free_port)
HB_PORT=$(it_free_port)
HS="http://127.0.0.1:$SYN_PORT"

it_step "Heisenbridge's appservice registration"
"$PY" -m heisenbridge -c "$MX/heisenbridge.yaml" -l 127.0.0.1 -p "$HB_PORT" --generate >"$MX/generate.out" 2>&1 ||
    it_fail "heisenbridge --generate failed: $(cat "$MX/generate.out")"

it_step "Synapse: sqlite, client listener on 127.0.0.1:$SYN_PORT, no federation"
"$PY" -c 'import sys
from signedjson.key import generate_signing_key, write_signing_keys
with open(sys.argv[1], "w") as f:
    write_signing_keys(f, [generate_signing_key("a")])' "$MX/signing.key"
cat >"$MX/homeserver.yaml" <<EOF
server_name: "$SERVER_NAME"
public_baseurl: "$HS/"
listeners:
  - port: $SYN_PORT
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$MX/homeserver.db"
log_config: "$MX/log.yaml"
media_store_path: "$MX/media"
signing_key_path: "$MX/signing.key"
report_stats: false
registration_shared_secret: "$REG_SECRET"
macaroon_secret_key: "mac-$RANDOM$RANDOM"
form_secret: "form-$RANDOM$RANDOM"
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
enable_metrics: false
url_preview_enabled: false
presence:
  enabled: false
app_service_config_files: ["$MX/heisenbridge.yaml"]
rc_message: {per_second: 1000, burst_count: 1000}
rc_joins:
  local: {per_second: 1000, burst_count: 1000}
rc_invites:
  per_room: {per_second: 1000, burst_count: 1000}
  per_user: {per_second: 1000, burst_count: 1000}
  per_issuer: {per_second: 1000, burst_count: 1000}
rc_registration: {per_second: 1000, burst_count: 1000}
rc_login:
  address: {per_second: 1000, burst_count: 1000}
  account: {per_second: 1000, burst_count: 1000}
EOF
cat >"$MX/log.yaml" <<EOF
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: "$MX/homeserver.log"
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
EOF
"$PY" -m synapse.app.homeserver -c "$MX/homeserver.yaml" >"$MX/synapse.out" 2>&1 &
SYN_PID=$!
IT_PIDS+=("$SYN_PID")
synapse_up() {
    kill -0 "$SYN_PID" 2>/dev/null || it_fail "Synapse exited: $(tail -n 5 "$MX/synapse.out")"
    "$PY" -c 'import sys, urllib.request
try: urllib.request.urlopen(sys.argv[1], timeout=1)
except Exception: sys.exit(1)' "$HS/_matrix/client/versions"
}
it_poll 90 "Synapse answers on $HS" synapse_up
it_log "synapse pid $SYN_PID up"

it_step "Heisenbridge on 127.0.0.1:$HB_PORT, owned by @alice:$SERVER_NAME"
"$PY" -m heisenbridge -v -c "$MX/heisenbridge.yaml" -l 127.0.0.1 -p "$HB_PORT" \
    -o "@alice:$SERVER_NAME" "$HS" >"$MX/heisenbridge.out" 2>&1 &
HB_PID=$!
IT_PIDS+=("$HB_PID")
hb_listening() {
    kill -0 "$HB_PID" 2>/dev/null || it_fail "Heisenbridge exited: $(tail -n 5 "$MX/heisenbridge.out")"
    "$PY" -c 'import socket, sys
try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
except OSError: sys.exit(1)' "$HB_PORT"
}
it_poll 60 "Heisenbridge listens on $HB_PORT" hb_listening
it_log "heisenbridge pid $HB_PID up"

it_step "matrix_bridge.py: alice on Matrix, bob on IRC"
python3 "$IT_LIB_DIR/matrix_bridge.py" --irc-port "$IT_PORT" --hs "$HS" --secret "$REG_SECRET" \
    --server-name "$SERVER_NAME" --log-dir "$MX" --irc-password "$IRC_PASSWORD" ||
    it_fail "matrix_bridge.py failed"

it_step "the server's log never shows alice's IRC password"
if grep -F -- "$IRC_PASSWORD" "$IT_TMP/server/stderr.log" >&2; then
    it_fail "the server log shows the SASL password"
fi

it_pass
