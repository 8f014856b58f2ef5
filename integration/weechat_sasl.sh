#!/usr/bin/env bash
# WeeChat logs in with SASL PLAIN: a raw peer registers the account "wee" with
# NickServ and quits; weechat-headless connects as wee with SASL PLAIN, must
# negotiate `sasl` and get 903, and a raw peer's WHOIS shows the account
# (330). The server runs with IRCD_LOG=debug; neither the password nor the
# base64 SASL payload that carries it may appear in its log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init weechat_sasl 120 "$@"

it_extra_diagnostics() { it_weechat_diagnostics; }

ACCOUNT=wee
# Distinctive, so a grep of the server log cannot match anything else.
PASSWORD="Sasl-Pw-$RANDOM$RANDOM-xyzzy"
# The AUTHENTICATE payloads a client may send for it (authzid empty or set).
B64_1=$(printf '\0%s\0%s' "$ACCOUNT" "$PASSWORD" | base64 -w0)
B64_2=$(printf '%s\0%s\0%s' "$ACCOUNT" "$ACCOUNT" "$PASSWORD" | base64 -w0)

export IRCD_LOG=debug
IT_SERVER_EXTRA_CONF=$'[services]\nbcrypt_cost = 4'
it_start_server

it_step "a raw client registers the account $ACCOUNT with NickServ, then quits"
it_peer_start reg "$ACCOUNT"
it_peer_send reg "PRIVMSG NickServ :REGISTER $PASSWORD"
it_peer_expect reg ":irc\.test 900 $ACCOUNT $ACCOUNT!\S+ $ACCOUNT :You are now logged in as $ACCOUNT"
it_peer_expect reg ":NickServ!NickServ@services\. NOTICE $ACCOUNT :$ACCOUNT is now registered to you, and you are logged in\."
it_peer_send reg "QUIT :done"
it_poll 10 "the registering peer disconnects" bash -c "! kill -0 ${IT_PEER_PID[reg]} 2>/dev/null"

it_step "observer peer"
it_peer_start obs obs
it_peer_send obs "WHOIS $ACCOUNT"
it_peer_expect obs ":irc\.test 401 obs $ACCOUNT :.*"

it_step "weechat connects as $ACCOUNT with SASL PLAIN"
it_weechat_start "$ACCOUNT" "\
/set irc.server.test.sasl_mechanism plain;\
/set irc.server.test.sasl_username $ACCOUNT;\
/set irc.server.test.sasl_password $PASSWORD;\
/set irc.server.test.sasl_fail disconnect;"

it_step "weechat negotiated sasl and got 903"
it_poll 10 "weechat shows the sasl capability enabled" \
    it_file_has "$WSRVLOG" "capability, enabled: .*\bsasl\b"
it_poll 10 "weechat shows 900 (logged in as $ACCOUNT)" \
    it_file_has "$WSRVLOG" "You are now logged in as $ACCOUNT"
it_poll 10 "weechat shows 903" it_file_has "$WSRVLOG" "SASL authentication successful"
SASL_BAD="SASL authentication (failed|aborted)|SASL message too long|already authenticated"
if grep -E "$SASL_BAD" "$WSRVLOG" >/dev/null; then
    it_fail "weechat shows a SASL failure: $(grep -E "$SASL_BAD" "$WSRVLOG")"
fi
# 903 must come before the 001 welcome (SASL during registration).
log=$(cat "$WSRVLOG")
n_903=$(it_line_no "$log" "SASL authentication successful")
n_001=$(it_line_no "$log" "Welcome to the TestNet IRC Network $ACCOUNT!")
((n_903 < n_001)) || it_fail "weechat logged 903 (line $n_903) after the welcome (line $n_001)"
it_log "weechat log: $(sed -n "${n_903}p" <<<"$log")"

it_step "WHOIS from the observer shows the account (330)"
it_peer_mark obs
it_peer_send obs "WHOIS $ACCOUNT"
it_peer_expect obs ":irc\.test 311 obs $ACCOUNT ~?weeuser 127\.0\.0\.1 \* :Wee Tester"
it_peer_expect obs ":irc\.test 330 obs $ACCOUNT $ACCOUNT :is logged in as"
it_peer_expect obs ":irc\.test 318 obs $ACCOUNT :.*"

it_step "weechat quits"
wee irc.server.test "/quit bye"
it_poll 10 "weechat process exits" bash -c "! kill -0 $WPID 2>/dev/null"
it_peer_mark obs
it_peer_send obs "WHOIS $ACCOUNT"
it_peer_expect obs ":irc\.test 401 obs $ACCOUNT :.*"

it_step "the server's debug log never shows the password or the SASL payload"
SRVLOG="$IT_TMP/server/stderr.log"
# The log really is at debug level (it names the commands it ran).
it_file_has "$SRVLOG" "DEBUG" || it_fail "the server log has no DEBUG lines (IRCD_LOG=debug ignored?)"
it_file_has "$SRVLOG" "AUTHENTICATE" ||
    it_fail "the server log does not show the AUTHENTICATE exchange at all"
it_file_has "$SRVLOG" "REGISTER" ||
    it_fail "the server log does not show the NickServ REGISTER at all"
for secret in "$PASSWORD" "$B64_1" "$B64_2"; do
    if grep -F -n -- "$secret" "$SRVLOG" >&2; then
        it_fail "the server log contains a secret ($secret)"
    fi
done
it_log "server log: $(wc -l <"$SRVLOG") lines, no password, no SASL payload"

it_pass
