#!/usr/bin/env bash
# irssi (in tmux) joins a keyed room created by a Python peer, talks, /me, /quit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init irssi 90 "$@"

it_extra_diagnostics() { it_irssi_diagnostics; }

it_start_server

it_step "peer alice creates #room with key"
it_peer_start alice alice
it_peer_send alice "JOIN #room"
it_peer_expect alice ":alice!\S+ JOIN #room"
it_peer_send alice "MODE #room +k secret"
it_peer_expect alice ":alice!\S+ MODE #room \+k secret"

it_step "start irssi"
it_irssi_start irs
it_peer_send alice "WHOIS irs"
it_peer_expect alice ":irc\.test 311 alice irs ~?irsuser 127\.0\.0\.1 \* :Irssi Tester"

it_step "irssi joins the keyed room"
it_peer_mark alice
it_type irssi "/join #room secret"
it_peer_expect alice ":irs!~?irsuser@127\.0\.0\.1 JOIN #room"
it_poll 10 "irssi shows its join" it_screen_has irssi "irs .* has joined #room"

it_step "irssi says something, then /me"
it_peer_mark alice
it_type irssi "hello from irssi"
it_peer_expect alice ":irs!\S+ PRIVMSG #room :hello from irssi"
it_type irssi "/me waves"
it_peer_expect alice ':irs!\S+ PRIVMSG #room :\x01ACTION waves\x01'

it_step "peer talks, irssi's screen shows it"
it_peer_send alice "PRIVMSG #room :hello irssi from alice"
it_peer_send alice $'PRIVMSG #room :\x01ACTION dances\x01'
it_poll 10 "irssi shows alice's message" it_screen_has irssi "<@alice> hello irssi from alice"
it_poll 10 "irssi shows alice's action" it_screen_has irssi "\* alice dances"

it_step "irssi quits"
it_peer_mark alice
it_type irssi "/quit see you later"
it_peer_expect alice ":irs!\S+ QUIT :.*see you later.*"
it_poll 10 "irssi process exits" test "$(it_tmux display-message -p -t irssi '#{pane_dead}')" = 1

it_pass
