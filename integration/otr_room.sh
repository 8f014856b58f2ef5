#!/usr/bin/env bash
# The off-the-record room in a real client. weechat-headless (nick wee) is the
# owner: it registers its account with NickServ, joins #otr, registers the room
# with ChanServ, gives its friend (a raw peer with its own account) auto-op,
# akicks troll*!*@* and finally closes the room. Each step is checked from the
# raw peers' side (friend, guest, troll) and in weechat's own logs.
# weechat talks to the services both ways: /msg ChanServ ... and the CS command
# (/quote CS ...).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init otr_room 150 "$@"

CHANLOG="$IT_TMP/weechat/logs/irc.test.#otr.weechatlog"
T=$'\t'
it_extra_diagnostics() { it_weechat_diagnostics; }

# wee_service_said SERVICE REGEX: weechat logged a NOTICE from that service
# (in any buffer: the server's one or a private one, by weechat's settings).
wee_service_said() {
    grep -q -h -E -- "$1 \($1@services\.\): $2\$" "$WLOG"/*.weechatlog 2>/dev/null
}

CS_RX=":ChanServ!ChanServ@services\."
NS_RX=":NickServ!NickServ@services\."

IT_SERVER_EXTRA_CONF=$'[services]\nbcrypt_cost = 4'
it_start_server

it_step "friend (raw peer) registers its own account"
it_peer_start friend friend
it_peer_send friend "PRIVMSG NickServ :REGISTER friend-pw-1"
it_peer_expect friend "$NS_RX NOTICE friend :friend is now registered to you, and you are logged in\."

it_step "weechat (wee) registers its account with NickServ"
it_weechat_start wee
wee irc.server.test "/msg NickServ REGISTER wee-pw-1"
it_poll 10 "weechat shows NickServ's confirmation" \
    wee_service_said NickServ "wee is now registered to you, and you are logged in\."
it_peer_send friend "WHOIS wee"
it_peer_expect friend ":irc\.test 330 friend wee wee :is logged in as"

it_step "weechat joins #otr (and is its operator), friend and guest join"
it_peer_mark friend
wee irc.server.test "/join #otr"
it_poll 10 "weechat shows its join" it_file_has "$CHANLOG" "wee .*has joined #otr"
it_peer_send friend "JOIN #otr"
it_peer_expect friend ":friend!\S+ JOIN #otr"
it_peer_expect friend ":irc\.test 353 friend = #otr :(.* )?@wee( .*)?"
it_peer_start guest guest
it_peer_send guest "JOIN #otr"
it_peer_expect guest ":guest!\S+ JOIN #otr"
it_peer_expect friend ":guest!\S+ JOIN #otr"
it_poll 10 "weechat sees friend and guest join" \
    it_file_has "$CHANLOG" "guest .*has joined #otr"

it_step "weechat registers #otr with ChanServ"
wee irc.server.test "/msg ChanServ REGISTER #otr"
it_poll 10 "weechat shows ChanServ's confirmation" wee_service_said ChanServ "#otr is now registered to you\."
it_peer_mark friend
it_peer_send friend "PRIVMSG ChanServ :INFO #otr"
it_peer_expect friend "$CS_RX NOTICE friend :Information on #otr:"
it_peer_expect friend "$CS_RX NOTICE friend :Founder: wee"
it_peer_expect friend "$CS_RX NOTICE friend :End of information\."

it_step "CS FLAGS #otr friend +O; friend rejoins and ChanServ ops it"
wee irc.server.test "/quote CS FLAGS #otr friend +O"
it_poll 10 "weechat shows the new flags" wee_service_said ChanServ "Flags of friend are now \+O\."
it_peer_mark friend
it_peer_send friend "PRIVMSG ChanServ :FLAGS #otr"
it_peer_expect friend "$CS_RX NOTICE friend :Access list of #otr:"
it_peer_expect friend "$CS_RX NOTICE friend :  friend \+O"
it_peer_expect friend "$CS_RX NOTICE friend :End of the access list\."
it_peer_mark guest
it_peer_send friend "PART #otr :brb"
it_peer_expect friend ":friend!\S+ PART #otr :brb"
it_peer_expect guest ":friend!\S+ PART #otr :brb"
it_peer_mark friend
it_peer_send friend "JOIN #otr"
it_peer_expect friend ":friend!\S+ JOIN #otr"
it_peer_expect friend "$CS_RX MODE #otr \+o friend"
it_peer_expect guest "$CS_RX MODE #otr \+o friend"
it_poll 10 "weechat shows ChanServ opping friend" \
    it_file_has "$CHANLOG" "Mode #otr \[\+o friend\] by ChanServ"
it_peer_mark friend
it_peer_send friend "NAMES #otr"
it_peer_expect friend ":irc\.test 353 friend = #otr :(.* )?@friend( .*)?"
# guest has no access: nothing gives it a mode
it_peer_absent guest ".* MODE #otr \+o guest"

it_step "CS AKICK #otr ADD troll*!*@* go away; troll joins and is kicked"
wee irc.server.test "/quote CS AKICK #otr ADD troll*!*@* go away"
it_poll 10 "weechat shows the AKICK entry" \
    wee_service_said ChanServ "troll\*!\*@\* is now on the AKICK list of #otr\."
it_peer_mark friend
it_peer_mark guest
it_peer_start troll troll
it_peer_send troll "JOIN #otr"
it_peer_expect troll ":troll!\S+ JOIN #otr"
it_peer_expect troll "$CS_RX KICK #otr troll :go away"
it_peer_expect friend "$CS_RX KICK #otr troll :go away"
it_peer_expect guest "$CS_RX KICK #otr troll :go away"
it_poll 10 "weechat shows ChanServ kicking troll" \
    it_file_has "$CHANLOG" "ChanServ has kicked troll \(go away\)"
it_peer_mark friend
it_peer_send friend "NAMES #otr"
it_peer_expect friend ":irc\.test 353 friend = #otr :(?!.*\btroll\b).*"
it_peer_mark troll
it_peer_send troll "JOIN #otr"
it_peer_expect troll "$CS_RX KICK #otr troll :go away"
it_peer_send friend "PRIVMSG #otr :still here"
it_poll 10 "weechat shows friend's message" it_file_has "$CHANLOG" "friend${T}still here$"

it_step "the room is listed before it is closed"
it_peer_mark troll
it_peer_send troll "LIST"
it_peer_expect troll ":irc\.test 322 troll #otr 3 :.*"
it_peer_expect troll ":irc\.test 323 troll :.*"

it_step "CS CLOSE #otr: every member is kicked, the room is gone"
it_peer_mark friend
it_peer_mark guest
it_peer_mark troll
wee irc.server.test "/quote CS CLOSE #otr"
it_peer_expect friend ":irc\.test KICK #otr friend :Channel closed by wee"
it_peer_expect guest ":irc\.test KICK #otr guest :Channel closed by wee"
it_poll 10 "weechat shows its own kick" \
    it_file_has "$CHANLOG" "irc\.test has kicked wee \(Channel closed by wee\)"
it_poll 10 "weechat shows ChanServ's confirmation" wee_service_said ChanServ "#otr is closed\."
for p in friend guest troll; do
    it_peer_mark "$p"
    it_peer_send "$p" "LIST"
    it_peer_expect "$p" ":irc\.test 323 $p :.*"
    it_peer_absent "$p" ":irc\.test 322 .*" "$IT_LAST_INDEX"
done
it_peer_mark friend
it_peer_send friend "NAMES #otr"
it_peer_expect friend ":irc\.test 366 friend #otr :.*"
it_peer_absent friend ":irc\.test 353 .*" "$IT_LAST_INDEX"
it_peer_send friend "MODE #otr"
it_peer_expect friend ":irc\.test 403 friend #otr :.*"
it_peer_absent troll ".* KICK #otr troll .*"

it_step "weechat quits"
wee irc.server.test "/quit bye"
it_poll 10 "weechat process exits" bash -c "! kill -0 $WPID 2>/dev/null"

it_pass
