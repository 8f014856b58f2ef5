#!/usr/bin/env bash
# ZNC (Debian's znc) as a bouncer in front of the server. A raw peer registers
# the account zoe with NickServ and quits. ZNC has a user whose network points
# at the server with the sasl module (PLAIN, RequireAuth); a raw client attached
# to ZNC sets the SASL credentials through *sasl and tells *status to connect.
# Then, all asserted on the wire of raw clients:
#   - WHOIS zoe on the server shows the account (330): ZNC logged in with SASL;
#   - zoe joins #room through ZNC; PRIVMSG both ways, a CTCP ACTION and a
#     NOTICE reach the ZNC client byte-exact;
#   - the ZNC client detaches (QUIT to ZNC): zoe stays on the server, in #room;
#   - bob talks in #room and sends zoe a private message while it is away;
#   - the client reattaches: ZNC replays #room (JOIN, 353, the buffer between
#     "Buffer Playback..." and "Playback Complete.") and the private message,
#     and nothing said before the detach is replayed again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init znc 90 "$@"

command -v znc >/dev/null || it_fail "znc not found (apt-get install znc)"

ACCOUNT=zoe
PASSWORD="Znc-Sasl-Pw-$RANDOM$RANDOM"
ZNC_USER=zuser
ZNC_PASS="Znc-Login-$RANDOM$RANDOM"
ZDIR="$IT_TMP/znc"

it_extra_diagnostics() {
    echo "--- znc output (last 40 lines)"
    tail -n 40 "$IT_TMP/znc.out" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' || true
}

IT_SERVER_EXTRA_CONF=$'[services]\nbcrypt_cost = 4'
it_start_server

it_step "a raw client registers the account $ACCOUNT with NickServ, then quits"
it_peer_start reg "$ACCOUNT"
it_peer_send reg "PRIVMSG NickServ :REGISTER $PASSWORD"
it_peer_expect reg ":NickServ!NickServ@services\. NOTICE $ACCOUNT :$ACCOUNT is now registered to you, and you are logged in\."
it_peer_send reg "QUIT :done"
it_poll 10 "the registering peer disconnects" bash -c "! kill -0 ${IT_PEER_PID[reg]} 2>/dev/null"

it_step "bob (raw client on the server) joins #room"
it_peer_start bob bob
it_peer_send bob "JOIN #room"
it_peer_expect bob ":bob!\S+ JOIN #room"

it_step "ZNC: one user, one network (not connected yet), the sasl module"
ZNC_PORT=$(it_free_port)
mkdir -p "$ZDIR/configs"
ZNC_VERSION=$(znc --version | awk 'NR==1{print $2}' | cut -d+ -f1)
SALT="salt$RANDOM$RANDOM"
HASH=$(printf '%s%s' "$ZNC_PASS" "$SALT" | sha256sum | cut -d' ' -f1)
cat >"$ZDIR/configs/znc.conf" <<EOF
Version = $ZNC_VERSION
<Listener l>
    Host = 127.0.0.1
    Port = $ZNC_PORT
    IPv4 = true
    IPv6 = false
    SSL = false
    AllowIRC = true
    AllowWeb = false
</Listener>
<User $ZNC_USER>
    Pass = sha256#$HASH#$SALT#
    Admin = true
    Nick = $ACCOUNT
    AltNick = ${ACCOUNT}_
    Ident = zoeident
    RealName = Zoe through ZNC
    Buffer = 50
    AutoClearChanBuffer = true
    AutoClearQueryBuffer = true
    MultiClients = true
    PrependTimestamp = false
    AppendTimestamp = false
    <Network testnet>
        Server = 127.0.0.1 $IT_PORT
        IRCConnectEnabled = false
        FloodRate = 100.00
        FloodBurst = 100
        LoadModule = sasl
    </Network>
</User>
EOF
# ZNC as root waits 30 s before it starts: run it as an unprivileged user.
it_as_user_init
it_as_user_own "$ZDIR"
"${IT_AS_USER[@]}" znc --foreground --no-color --datadir "$ZDIR" >"$IT_TMP/znc.out" 2>&1 &
ZNC_PID=$!
IT_PIDS+=("$ZNC_PID")
it_poll 15 "ZNC listens on $ZNC_PORT" \
    python3 -c "import socket,sys
try: socket.create_connection(('127.0.0.1', $ZNC_PORT), 1)
except OSError: sys.exit(1)"
it_log "znc $ZNC_VERSION pid $ZNC_PID on 127.0.0.1:$ZNC_PORT"

ZC_PASS="$ZNC_USER/testnet:$ZNC_PASS"
it_step "a raw client attaches to ZNC"
it_peer_start_at zc "$ACCOUNT" "$ZNC_PORT" "$ZC_PASS" ":\S+ 001 $ACCOUNT .*"

it_step "the client sets the SASL credentials through *sasl and connects"
it_peer_mark zc
it_peer_send zc "PRIVMSG *sasl :Mechanism PLAIN"
it_peer_expect zc ":\*sasl!\S+ PRIVMSG $ACCOUNT :Current mechanisms set: PLAIN"
it_peer_mark zc
it_peer_send zc "PRIVMSG *sasl :RequireAuth yes"
it_peer_expect zc ":\*sasl!\S+ PRIVMSG $ACCOUNT :We require SASL negotiation to connect"
it_peer_mark zc
it_peer_send zc "PRIVMSG *sasl :Set $ACCOUNT $PASSWORD"
it_peer_expect zc ":\*sasl!\S+ PRIVMSG $ACCOUNT :.*$ACCOUNT.*"
it_peer_mark zc
it_peer_send zc "PRIVMSG *status :Connect"
# ZNC passes the server's welcome on to its client once registered.
it_peer_expect zc ":irc\.test 001 $ACCOUNT :Welcome to the TestNet IRC Network $ACCOUNT!.*" 15
it_peer_absent zc ":\*sasl!\S+ PRIVMSG $ACCOUNT :.*(fail|abort|Disabl).*"

it_step "WHOIS on the server: zoe is logged in as zoe (330)"
it_peer_mark bob
it_peer_send bob "WHOIS $ACCOUNT"
it_peer_expect bob ":irc\.test 311 bob $ACCOUNT ~?zoeident 127\.0\.0\.1 \* :Zoe through ZNC"
it_peer_expect bob ":irc\.test 330 bob $ACCOUNT $ACCOUNT :is logged in as"
it_peer_expect bob ":irc\.test 318 bob $ACCOUNT :.*"

it_step "zoe joins #room through ZNC"
it_peer_mark zc
it_peer_mark bob
it_peer_send zc "JOIN #room"
it_peer_expect zc ":$ACCOUNT!\S+ JOIN #room"
it_peer_expect zc ":irc\.test 353 $ACCOUNT = #room :.*\bbob\b.*"
it_peer_expect bob ":$ACCOUNT!~?zoeident@127\.0\.0\.1 JOIN #room"

it_step "messages both ways"
it_peer_send bob "PRIVMSG #room :hello zoe, from the server"
it_peer_expect zc ":bob!\S+ PRIVMSG #room :hello zoe, from the server"
it_peer_send zc "PRIVMSG #room :hello bob, from ZNC"
it_peer_expect bob ":$ACCOUNT!\S+ PRIVMSG #room :hello bob, from ZNC"
it_peer_send bob $'PRIVMSG #room :\x01ACTION waves at zoe\x01'
it_peer_expect zc ":bob!\S+ PRIVMSG #room :\\x01ACTION waves at zoe\\x01"
it_peer_send bob "NOTICE #room :a notice for the room"
it_peer_expect zc ":bob!\S+ NOTICE #room :a notice for the room"
it_peer_send zc $'PRIVMSG #room :\x01ACTION waves back\x01'
it_peer_expect bob ":$ACCOUNT!\S+ PRIVMSG #room :\\x01ACTION waves back\\x01"
it_peer_send zc "PRIVMSG bob :a private word"
it_peer_expect bob ":$ACCOUNT!\S+ PRIVMSG bob :a private word"
it_peer_sync bob

it_step "the client detaches from ZNC; zoe stays on the server"
it_peer_mark bob
it_peer_send zc "QUIT :detaching"
it_poll 10 "the ZNC client's connection closes" bash -c "! kill -0 ${IT_PEER_PID[zc]} 2>/dev/null"
it_peer_send bob "NAMES #room"
it_peer_expect bob ":irc\.test 353 bob = #room :.*\b$ACCOUNT\b.*"
it_peer_absent bob ":$ACCOUNT!\S+ (QUIT|PART) .*"

it_step "bob talks while zoe is detached"
it_peer_send bob "PRIVMSG #room :missed one"
it_peer_send bob "PRIVMSG #room :missed two"
it_peer_send bob $'PRIVMSG #room :\x01ACTION missed three\x01'
it_peer_send bob "PRIVMSG $ACCOUNT :are you there?"
# With no client attached ZNC answers a CTCP PING itself: once bob has the
# reply, ZNC has read (and buffered) every line the server sent it before.
it_peer_send bob $'PRIVMSG '"$ACCOUNT"$' :\x01PING zncsync42\x01'
it_peer_expect bob ":$ACCOUNT!\S+ NOTICE bob :\\x01PING zncsync42\\x01"

it_step "the client reattaches: ZNC plays back what it missed"
it_peer_start_at zc "$ACCOUNT" "$ZNC_PORT" "$ZC_PASS" ":irc\.test 001 $ACCOUNT .*"
it_peer_expect zc ":$ACCOUNT!\S+ JOIN #room"
it_peer_expect zc ":irc\.test 366 $ACCOUNT #room :.*"
it_peer_expect zc ":\*\*\*!znc@znc\.in PRIVMSG #room :Buffer Playback\.\.\."
start=$IT_LAST_INDEX
it_peer_expect zc ":bob!\S+ PRIVMSG #room :missed one"
((IT_LAST_INDEX == start + 1)) || it_fail "the first replayed line is not the first missed one"
it_peer_expect zc ":bob!\S+ PRIVMSG #room :missed two"
((IT_LAST_INDEX == start + 2)) || it_fail "the second missed line is not next"
it_peer_expect zc ":bob!\S+ PRIVMSG #room :\\x01ACTION missed three\\x01"
((IT_LAST_INDEX == start + 3)) || it_fail "the missed ACTION is not next"
it_peer_expect zc ":\*\*\*!znc@znc\.in PRIVMSG #room :Playback Complete\."
((IT_LAST_INDEX == start + 4)) || it_fail "the channel playback holds more than the missed lines"
it_peer_expect zc ":bob!\S+ PRIVMSG $ACCOUNT :are you there\?"
it_peer_absent zc ".* PRIVMSG #room :hello zoe, from the server"

it_step "after the reattach the conversation goes on both ways"
it_peer_mark zc
it_peer_mark bob
it_peer_send zc "PRIVMSG #room :back again"
it_peer_expect bob ":$ACCOUNT!\S+ PRIVMSG #room :back again"
it_peer_send bob "PRIVMSG #room :welcome back"
it_peer_expect zc ":bob!\S+ PRIVMSG #room :welcome back"

it_step "ZNC's own output never shows the passwords"
if grep -F -- "$PASSWORD" "$IT_TMP/znc.out" "$IT_TMP/server/stderr.log" >&2; then
    it_fail "a log shows the SASL password"
fi

it_pass
