#!/usr/bin/env bash
# Ephemeral channel: irssi and weechat sit in #room, the peer sets +E 5s,
# nobody speaks. Both real clients must show the warning NOTICE and then the
# server's KICK; timings are checked on the peer's side; the channel is gone
# afterwards (a new JOIN creates a fresh channel).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init self_destruct 90 "$@"

CHANLOG="$IT_TMP/weechat/logs/irc.test.#room.weechatlog"
it_extra_diagnostics() { it_irssi_diagnostics; it_weechat_diagnostics; }

NOTICE_TEXT="#room has been idle and self-destructs in 2s unless someone speaks."
KICK_REASON="Channel self-destructed after being idle for 5s"
rx_escape() { sed -e 's/[].[\\*^$()+?{}|]/\\&/g' <<<"$1"; }
NOTICE_RX=$(rx_escape "$NOTICE_TEXT")
KICK_RX=$(rx_escape "$KICK_REASON")

it_start_server

it_step "peer alice creates #room"
it_peer_start alice alice
it_peer_send alice "JOIN #room"
it_peer_expect alice ":alice!\S+ JOIN #room"

it_step "irssi and weechat join"
it_irssi_start irs
it_weechat_start wee
it_type irssi "/join #room"
it_peer_expect alice ":irs!\S+ JOIN #room"
it_poll 10 "irssi shows its join" it_screen_has irssi "irs .* has joined #room"
wee irc.server.test "/join #room"
it_peer_expect alice ":wee!\S+ JOIN #room"
it_poll 10 "weechat shows its join" it_file_has "$CHANLOG" "wee .*has joined #room"

it_step "alice sets +E 5s; nobody speaks"
it_peer_mark alice
it_peer_send alice "MODE #room +E 5s"
it_peer_expect alice ":alice!\S+ MODE #room \+E 5s"
it_peer_expect alice ":irc\.test NOTICE #room :$NOTICE_RX" 10
it_peer_expect alice ":irc\.test KICK #room alice :$KICK_RX" 10

it_step "timings (peer transcript clock)"
t_mode=$(it_peer_time alice "MODE #room \\+E 5s$")
t_notice=$(it_peer_time alice "^:irc\\.test NOTICE #room ")
t_kick=$(it_peer_time alice "^:irc\\.test KICK #room alice ")
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a-b}'; }
# The idle clock starts at MODE +E (the last activity; the JOINs came
# before it, as long before as this script's own pace on a loaded machine
# makes them). The upper bounds leave room for a slow peer's reading.
it_check_between "notice - MODE +E" "$(sub "$t_notice" "$t_mode")" 2.9 4.0
it_check_between "kick - MODE +E" "$(sub "$t_kick" "$t_mode")" 4.9 6.0
it_check_between "kick - notice" "$(sub "$t_kick" "$t_notice")" 1.7 2.6

it_step "irssi's screen: warning, then kick"
it_poll 10 "irssi shows the kick" \
    it_screen_has irssi "irs was kicked from #room by irc\.test \[$KICK_RX\]"
screen=$(it_screen irssi)
n_notice=$(it_line_no "$screen" "irc\.test.*$NOTICE_RX")
n_kick=$(it_line_no "$screen" "irs was kicked from #room by irc\.test \[$KICK_RX\]")
((n_notice < n_kick)) || it_fail "irssi shows the kick (line $n_kick) before the warning (line $n_notice)"
it_log "irssi screen line $n_notice: $(sed -n "${n_notice}p" <<<"$screen" | sed 's/ *$//')"
it_log "irssi screen line $n_kick: $(sed -n "${n_kick}p" <<<"$screen" | sed 's/ *$//')"

it_step "weechat's log: warning, then kick"
it_poll 10 "weechat shows the kick" \
    it_file_has "$CHANLOG" "irc\.test has kicked wee \($KICK_RX\)"
log=$(cat "$CHANLOG")
n_notice=$(it_line_no "$log" "irc\.test.*$NOTICE_RX")
n_kick=$(it_line_no "$log" "irc\.test has kicked wee \($KICK_RX\)")
((n_notice < n_kick)) || it_fail "weechat logged the kick (line $n_kick) before the warning (line $n_notice)"
it_log "weechat log: $(sed -n "${n_notice}p" <<<"$log")"
it_log "weechat log: $(sed -n "${n_kick}p" <<<"$log")"

it_step "the channel is gone; a new JOIN creates a fresh one"
it_peer_mark alice
it_peer_send alice "MODE #room"
it_peer_expect alice ":irc\.test 403 alice #room :.*"
it_type irssi "/join #room"
irssi_joined_twice() {
    local text n
    text=$(it_screen irssi) || return 1
    n=$(grep -c -E "irs .* has joined #room" <<<"$text") || true
    [[ "$n" == 2 ]]
}
it_poll 10 "irssi shows its rejoin" irssi_joined_twice
it_poll 10 "irssi is the only member, and op" it_screen_has irssi "\[Users #room\]"
it_poll 10 "irssi is the only member, and op" it_screen_has irssi "^..:.. \[@irs\] *$"
it_peer_send alice "MODE #room"
it_peer_expect alice ":irc\.test 324 alice #room [^E]*"

it_pass
