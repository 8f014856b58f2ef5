#!/usr/bin/env bash
# First-run setup exactly as a user does it: `ircd init` in an empty folder,
# then `ircd --config ircd.toml` from there, unchanged (127.0.0.1:6667 and
# 6697); a client registers over TCP and one over TLS; a second `ircd init`
# refuses and changes nothing. (tests/init.rs does the same on free ports.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init homebox_init 60 "$@"

CLIENT="$IT_LIB_DIR/homebox_client.py"
for port in 6667 6697; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        it_fail "127.0.0.1:$port is taken; the config ircd init writes listens there"
    fi
done

it_step "ircd init in an empty folder"
mkdir "$IT_TMP/home"
cd "$IT_TMP/home"
"$IRCD_BIN" init >"$IT_TMP/init.out"
grep -q "ircd mkpasswd" "$IT_TMP/init.out" || it_fail "no next steps: $(cat "$IT_TMP/init.out")"
ls -l . data >&2
sums() { sha256sum ircd.toml motd.txt data/tls-cert.pem data/tls-key.pem; }
sums >"$IT_TMP/before.sum"

it_step "a second ircd init refuses"
if "$IRCD_BIN" init 2>"$IT_TMP/again.err"; then it_fail "second init succeeded"; fi
grep -q "already exists" "$IT_TMP/again.err" || it_fail "$(cat "$IT_TMP/again.err")"
sums | diff "$IT_TMP/before.sum" - >&2 || it_fail "second init changed a file"

it_step "ircd --config ircd.toml serves TCP and TLS"
"$IRCD_BIN" --config ircd.toml 2>"$IT_TMP/server.log" &
IT_PIDS+=("$!")
it_poll 10 "the server listens" grep -q listening "$IT_TMP/server.log"
python3 "$CLIENT" 6667 alice --join '#first' || it_fail "plaintext client"
python3 "$CLIENT" 6697 bob --tls --join '#first' || it_fail "TLS client"
sums | diff "$IT_TMP/before.sum" - >&2 || it_fail "the server replaced init's files"

it_pass
