#!/usr/bin/env bash
# weechat-headless in a keyed / invite-only / banned room, driven through its
# FIFO; its logger files show what weechat itself saw, Python peers show what
# the server relayed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init weechat 120 "$@"

CHANLOG="$IT_TMP/weechat/logs/irc.test.#room.weechatlog"
PVLOG="$IT_TMP/weechat/logs/irc.test.alice.weechatlog"
T=$'\t'

it_extra_diagnostics() { it_weechat_diagnostics; }

# wee_count FILE REGEX -> number of matching log lines
wee_count() { local n; n=$(grep -c -E -- "$2" "$1" 2>/dev/null) || true; echo "${n:-0}"; }
wee_at_least() { (($(wee_count "$1" "$2") >= $3)); }
# weechat prints join errors in the channel buffer if it exists, else in the
# server buffer: look in both.
wee_err_has() { grep -q -E -- "$1" "$WSRVLOG" "$CHANLOG" 2>/dev/null; }

it_start_server

it_step "peer alice creates #room with key"
it_peer_start alice alice
it_peer_send alice "JOIN #room"
it_peer_expect alice ":alice!\S+ JOIN #room"
it_peer_send alice "MODE #room +k secret"
it_peer_expect alice ":alice!\S+ MODE #room \+k secret"

it_step "start weechat-headless"
it_weechat_start wee
it_peer_send alice "WHOIS wee"
it_peer_expect alice ":irc\.test 311 alice wee ~?weeuser 127\.0\.0\.1 \* :Wee Tester"

it_step "weechat negotiated IRCv3 capabilities (it asks for all it knows)"
it_poll 10 "weechat shows message-tags, server-time and setname enabled" \
    wee_err_has "capability, enabled: .*multi-prefix.*message-tags server-time.*setname"

it_step "wrong key is refused (475)"
wee irc.server.test "/join #room wrongkey"
it_poll 10 "weechat shows 'Cannot join channel (+k)'" \
    wee_err_has "#room: Cannot join channel \(\+k\)"
it_peer_mark alice
it_peer_send alice "NAMES #room"
it_peer_expect alice ":irc\.test 353 alice = #room :@alice"
it_peer_absent alice ":wee!.* JOIN .*"

it_step "right key lets weechat in"
it_peer_mark alice
wee irc.server.test "/join #room secret"
it_peer_expect alice ":wee!~?weeuser@127\.0\.0\.1 JOIN #room"
it_poll 10 "weechat shows its join" wee_at_least "$CHANLOG" "wee .*has joined #room" 1

it_step "+i: bob is refused (473), invited, then gets in"
it_peer_send alice "MODE #room +i"
it_peer_expect alice ":alice!\S+ MODE #room \+i"
it_poll 10 "weechat sees +i" it_file_has "$CHANLOG" "Mode #room \[\+i\] by alice"
it_peer_start bob bob
it_peer_send bob "JOIN #room secret"
it_peer_expect bob ":irc\.test 473 bob #room :.*"
it_peer_mark alice
it_peer_send alice "INVITE bob #room"
it_peer_expect alice ":irc\.test 341 alice bob #room"
it_peer_expect bob ":alice!\S+ INVITE bob :?#room"
it_peer_mark bob
it_peer_send bob "JOIN #room secret"
it_peer_expect bob ":bob!\S+ JOIN #room"
it_peer_expect alice ":bob!\S+ JOIN #room"
it_poll 10 "weechat sees bob join" it_file_has "$CHANLOG" "bob .*has joined #room"
it_peer_send alice "MODE #room -i"
it_peer_expect alice ":alice!\S+ MODE #room -i"

it_step "channel message and /me from weechat"
it_peer_mark alice
it_peer_mark bob
wee "irc.test.#room" "hello from weechat"
wee "irc.test.#room" "/me waves"
it_peer_expect alice ":wee!\S+ PRIVMSG #room :hello from weechat"
it_peer_expect alice ':wee!\S+ PRIVMSG #room :\x01ACTION waves\x01'
it_peer_expect bob ':wee!\S+ PRIVMSG #room :\x01ACTION waves\x01'
it_peer_send alice "PRIVMSG #room :hi wee"
it_poll 10 "weechat shows alice's message" it_file_has "$CHANLOG" "${T}@?alice${T}hi wee$"

it_step "DMs reach only their target"
it_peer_mark alice
it_peer_mark bob
wee irc.server.test "/msg bob psst, bob only"
wee "irc.test.#room" "after-dm"
it_peer_expect bob ":wee!\S+ PRIVMSG bob :psst, bob only"
it_peer_expect alice ":wee!\S+ PRIVMSG #room :after-dm"
it_peer_absent alice ".*psst.*"
it_peer_mark bob
it_peer_send alice "PRIVMSG wee :for wee only"
it_peer_send alice "PRIVMSG #room :after-dm-2"
it_poll 10 "weechat got alice's DM" it_file_has "$PVLOG" "alice${T}for wee only$"
it_peer_expect bob ":alice!\S+ PRIVMSG #room :after-dm-2"
it_peer_absent bob ".*for wee only.*"

it_step "kick, weechat rejoins"
it_peer_mark alice
it_peer_mark bob
it_peer_send alice "KICK #room wee :first kick"
it_peer_expect alice ":alice!\S+ KICK #room wee :first kick"
it_peer_expect bob ":alice!\S+ KICK #room wee :first kick"
it_poll 10 "weechat shows the kick" it_file_has "$CHANLOG" "alice has kicked wee \(first kick\)"
it_peer_mark alice
wee irc.server.test "/join #room secret"
it_peer_expect alice ":wee!\S+ JOIN #room"
it_poll 10 "weechat shows its second join" wee_at_least "$CHANLOG" "wee .*has joined #room" 2

it_step "ban + kick, weechat's rejoin fails (474)"
it_peer_send alice "MODE #room +b wee!*@*"
it_peer_expect alice ":alice!\S+ MODE #room \+b wee!\*@\*"
it_peer_send alice "KICK #room wee :banned"
it_peer_expect alice ":alice!\S+ KICK #room wee :banned"
it_poll 10 "weechat shows the ban kick" it_file_has "$CHANLOG" "alice has kicked wee \(banned\)"
wee irc.server.test "/join #room secret"
it_poll 10 "weechat shows 'Cannot join channel (+b)'" \
    wee_err_has "#room: Cannot join channel \(\+b\)"
it_peer_mark alice
it_peer_send alice "NAMES #room"
it_peer_expect alice ":irc\.test 353 alice = #room :(?!.*\bwee\b).*\bbob\b.*"
it_peer_absent alice ":wee!.* JOIN .*"

it_step "weechat quits"
wee irc.server.test "/quit bye"
it_poll 10 "weechat process exits" bash -c "! kill -0 $WPID 2>/dev/null"
it_peer_mark alice
it_peer_send alice "WHOIS wee"
it_peer_expect alice ":irc\.test 401 alice wee :.*"

it_pass
