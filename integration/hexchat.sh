#!/usr/bin/env bash
# HexChat (Debian's hexchat, GTK) under Xvfb, driven by its own config files
# (servlist.conf: a network that autoconnects and autojoins #room;
# hexchat.conf: text logging on, no network list, no dialogs) and by its
# D-Bus remote control (`hexchat --existing --command=...`) on a private
# session bus. A raw peer bob is in #room. Checked on bob's wire and in
# HexChat's own text logs (not in the picture: without a window manager its
# member list does not redraw reliably):
#   - HexChat joins #room; bob's message, ACTION and NOTICE reach it;
#   - HexChat's message and /me reach bob byte-exact;
#   - bob's private message opens a query (its own log file), HexChat answers;
#   - /quit reaches bob with its reason.
# HexChat refuses to run as root (a modal dialog), so Xvfb, the bus and
# HexChat run as an unprivileged user. A screenshot is kept in $IT_ARTIFACTS
# (default target/integration-artifacts) as hexchat.png.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init hexchat 90 "$@"

for tool in hexchat Xvfb dbus-daemon import; do
    command -v "$tool" >/dev/null || it_fail "$tool not found (apt-get install hexchat xvfb dbus imagemagick)"
done
ARTIFACTS=${IT_ARTIFACTS:-$(cd "$IT_LIB_DIR/.." && pwd)/target/integration-artifacts}
mkdir -p "$ARTIFACTS"

HX="$IT_TMP/hexchat"
HXLOG="$HX/logs/testnet"
T=$'\t'

it_extra_diagnostics() {
    local f
    for f in "$HXLOG"/*.log; do
        [[ -f "$f" ]] || continue
        echo "--- hexchat log $(basename "$f") (last 25 lines)"
        tail -n 25 "$f"
    done
    echo "--- hexchat output"
    tail -n 20 "$IT_TMP/hexchat.out" 2>/dev/null || true
}

it_start_server

it_step "bob (raw peer) joins #room"
it_peer_start bob bob
it_peer_send bob "JOIN #room"
it_peer_expect bob ":bob!\S+ JOIN #room"

it_step "HexChat's config: one network, autoconnect, autojoin #room, logging on"
mkdir -p "$HX"
HXVERSION=$(hexchat --version 2>/dev/null | awk '{print $2}')
cat >"$HX/hexchat.conf" <<EOF
version = $HXVERSION
gui_slist_skip = 1
gui_join_dialog = 0
gui_quit_dialog = 0
gui_tray = 0
irc_logging = 1
net_throttle = 0
irc_nick1 = hexy
irc_nick2 = hexy_
irc_nick3 = hexy__
irc_user_name = hexuser
irc_real_name = Hex Tester
EOF
# net_throttle = 0: with HexChat's send throttle on, its QUIT waits in the
# throttle's queue and is dropped when it closes the socket (the server then
# sees a plain close, not the QUIT and its reason).
# F=9: cycle through the servers (1) + connect at startup (8); the network's
# own nick and user name, no TLS, no proxy.
cat >"$HX/servlist.conf" <<EOF
v=$HXVERSION

N=TestNet
I=hexy
i=hexy_
U=hexuser
R=Hex Tester
J=#room
E=UTF-8 (Unicode)
F=9
D=0
S=127.0.0.1/$IT_PORT

EOF
it_as_user_init
it_as_user_own "$HX"

it_step "Xvfb and a private D-Bus session bus"
# -displayfd: Xvfb picks a free display and writes its number to fd 3.
"${IT_AS_USER[@]}" Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp \
    3>"$IT_TMP/xvfb.display" 2>"$IT_TMP/xvfb.log" &
IT_PIDS+=("$!")
it_poll 15 "Xvfb reports its display" grep -q '^[0-9]' "$IT_TMP/xvfb.display"
DISPLAY_NUM=:$(head -1 "$IT_TMP/xvfb.display")
"${IT_AS_USER[@]}" dbus-daemon --session --nofork --nosyslog --print-address=3 \
    3>"$IT_TMP/dbus.address" 2>"$IT_TMP/dbus.log" &
IT_PIDS+=("$!")
it_poll 10 "the session bus reports its address" grep -q '^unix:' "$IT_TMP/dbus.address"
BUS=$(head -1 "$IT_TMP/dbus.address")
HXENV=(env DISPLAY="$DISPLAY_NUM" HOME="$HX" DBUS_SESSION_BUS_ADDRESS="$BUS" LANG=C.UTF-8)
it_log "display $DISPLAY_NUM, bus $BUS"

# hx_cmd COMMAND: run a HexChat command in the running HexChat (its front
# tab), through its D-Bus remote control.
hx_cmd() {
    timeout 10 "${IT_AS_USER[@]}" "${HXENV[@]}" hexchat --cfgdir="$HX" --existing --command="$1" ||
        it_fail "hexchat --existing --command='$1' failed"
}

it_step "HexChat starts, connects and joins #room"
it_peer_mark bob
"${IT_AS_USER[@]}" "${HXENV[@]}" hexchat --cfgdir="$HX" --no-plugins >"$IT_TMP/hexchat.out" 2>&1 &
HXPID=$!
IT_PIDS+=("$HXPID")
it_peer_expect bob ":hexy!~?hexuser@127\.0\.0\.1 JOIN #room" 30
it_poll 10 "HexChat's log shows it is in #room" it_file_has "$HXLOG/#room.log" "${T}Now talking on #room$"
it_poll 10 "HexChat's server log shows the welcome" \
    it_file_has "$HXLOG/testnet.log" "Welcome to the TestNet IRC Network hexy!~?hexuser@127\.0\.0\.1"
it_peer_send bob "WHOIS hexy"
it_peer_expect bob ":irc\.test 311 bob hexy ~?hexuser 127\.0\.0\.1 \* :Hex Tester"

it_step "bob -> HexChat: a message, an ACTION, a NOTICE"
it_peer_send bob "PRIVMSG #room :hello hexchat, from a raw client"
it_poll 10 "HexChat logs bob's message" it_file_has "$HXLOG/#room.log" "<bob>${T}hello hexchat, from a raw client$"
it_peer_send bob $'PRIVMSG #room :\x01ACTION waves at hexy\x01'
it_poll 10 "HexChat logs bob's action" it_file_has "$HXLOG/#room.log" "\*${T}bob waves at hexy$"
it_peer_send bob "NOTICE #room :a notice for the room"
it_poll 10 "HexChat logs bob's notice" it_file_has "$HXLOG/#room.log" "-bob/#room-${T}a notice for the room$"

it_step "HexChat -> bob: a message and /me"
hx_cmd "msg #room hello bob, from HexChat"
it_peer_expect bob ":hexy!\S+ PRIVMSG #room :hello bob, from HexChat"
it_poll 10 "HexChat logs its own message" it_file_has "$HXLOG/#room.log" "<hexy>${T}hello bob, from HexChat$"
hx_cmd "doat #room me waves back"
it_peer_expect bob ":hexy!\S+ PRIVMSG #room :\\x01ACTION waves back\\x01"

it_step "a private message opens a query; HexChat answers in it"
it_peer_send bob "PRIVMSG hexy :psst, a private word"
it_poll 10 "HexChat logs the private message in its own file" \
    it_file_has "$HXLOG/bob.log" "<bob>${T}psst, a private word$"
hx_cmd "msg bob a private answer"
it_peer_expect bob ":hexy!\S+ PRIVMSG bob :a private answer"

it_step "screenshot"
# Taken by the display's owner; HexChat's own log says what the picture shows.
SHOT="$IT_TMP/shot.png"
touch "$SHOT"
it_as_user_own "$SHOT"
timeout 20 "${IT_AS_USER[@]}" env DISPLAY="$DISPLAY_NUM" import -window root "$SHOT" ||
    it_fail "import (ImageMagick) could not take a screenshot"
cp "$SHOT" "$ARTIFACTS/hexchat.png"
size=$(stat -c %s "$ARTIFACTS/hexchat.png")
# An empty 1024x768 screen compresses to about 3 KB; HexChat's window is more.
((size > 10000)) || it_fail "the screenshot is only $size bytes: no window on the screen?"
it_log "screenshot $ARTIFACTS/hexchat.png ($size bytes)"

it_step "/quit reaches bob with its reason"
hx_cmd "quit leaving from HexChat"
it_peer_expect bob ":hexy!\S+ QUIT :(Quit: )?leaving from HexChat"
kill -0 "$HXPID" 2>/dev/null || it_fail "HexChat exited (it should only have disconnected)"

it_pass
