#!/usr/bin/env bash
# Gateways against the release binary: haproxy (Debian) in front of a
# `proxy = true` listener with send-proxy-v2, and WEBIRC from a raw client.
# Clients connect from other loopback addresses (127.0.0.2, .3), so the
# address the server sees through the gateway differs from the gateway's own.
# WHOIS shows the forwarded address and per-address limits count it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/web_lib.sh"
it_init haproxy 90 "$@"
command -v haproxy >/dev/null || it_fail "haproxy not found (apt-get install haproxy)"
CLIENT="$IT_LIB_DIR/gateway_client.py"

web_start_server '[connections]
exempt = []
per_ip = 2
throttle = 100

[[webirc]]
name = "testgw"
password = "gw-pass"
hosts = ["127.0.0.1"]'

HA_PORT=$(it_free_port)
cat >"$IT_TMP/haproxy.cfg" <<EOF
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend irc
    bind 127.0.0.1:$HA_PORT
    default_backend ircd
backend ircd
    server ircd 127.0.0.1:$PROXY_PORT send-proxy-v2
EOF
haproxy -c -f "$IT_TMP/haproxy.cfg" >&2 || it_fail "haproxy config invalid"
haproxy -db -f "$IT_TMP/haproxy.cfg" >"$IT_TMP/haproxy.log" 2>&1 &
IT_PIDS+=("$!")
it_log "haproxy pid $! on 127.0.0.1:$HA_PORT -> PROXY v2 -> 127.0.0.1:$PROXY_PORT"
it_poll 10 "haproxy listens" python3 -c "import socket; socket.create_connection(('127.0.0.1', $HA_PORT), 1)"

it_step "through haproxy from 127.0.0.2: WHOIS shows 127.0.0.2"
out=$(python3 "$CLIENT" whois "$HA_PORT" 127.0.0.2 viahap)
it_log "WHOIS: $out"
[[ "$out" == "127.0.0.2 127.0.0.2" ]] || it_fail "WHOIS through haproxy shows '$out'"

it_step "per_ip = 2 counts 127.0.0.2, not haproxy's address"
coproc HOLD { python3 "$CLIENT" hold "$HA_PORT" 127.0.0.2 held 3; }
IT_PIDS+=("$HOLD_PID")
results=()
for _ in 1 2 3; do
    read -r -t 15 line <&"${HOLD[0]}" || it_fail "hold client gave no result"
    results+=("$line")
done
it_log "three clients from 127.0.0.2: ${results[*]}"
[[ "${results[0]}" == ok && "${results[1]}" == ok ]] || it_fail "the first two were not admitted: ${results[*]}"
[[ "${results[2]}" == *"too many host connections"* ]] || it_fail "the third was not refused: ${results[2]}"
out=$(python3 "$CLIENT" whois "$HA_PORT" 127.0.0.3 other)
[[ "$out" == "127.0.0.3 127.0.0.3" ]] || it_fail "a client from 127.0.0.3 got '$out'"
exec {HOLD[1]}>&-

it_step "a PROXY header on the plain listener is not believed"
out=$(python3 - "$IT_PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.sendall(b"PROXY TCP4 192.0.2.99 127.0.0.1 1 2\r\n")
data = b""
while b" 451 " not in data:
    data += s.recv(4096)
print("451")
EOF
)
[[ "$out" == 451 ]] || it_fail "PROXY on a plain listener: $out"

it_step "WEBIRC from a raw client on 127.0.0.1"
out=$(python3 "$CLIENT" whois "$IT_PORT" 127.0.0.1 webircer "WEBIRC gw-pass testgw friend.example.org 192.0.2.50")
it_log "WHOIS: $out"
[[ "$out" == "friend.example.org 192.0.2.50" ]] || it_fail "WHOIS after WEBIRC shows '$out'"
out=$(python3 "$CLIENT" whois "$IT_PORT" 127.0.0.1 badgw "WEBIRC wrong testgw x.example 192.0.2.51" || true)
[[ "$out" == ERROR* ]] || it_fail "a wrong WEBIRC password was accepted: $out"

it_pass
