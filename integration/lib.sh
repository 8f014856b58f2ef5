# shellcheck shell=bash
# Helpers for the real-client integration scripts. Source it; do not run it.
#
#   it_init NAME MAX_SECONDS "$@"   # re-exec under `timeout`, temp dir, traps
#   it_start_server                 # random free port on 127.0.0.1 -> $IT_PORT
#                                   # ($IT_SERVER_EXTRA_CONF is appended to its config)
#   it_peer_start NAME NICK [CAPS]  # Python peer (peer.py), waits for 001
#   it_peer_start_at NAME NICK PORT PASS WELCOME_RX
#                                   # a peer of another server (a bouncer's
#                                   # listener), PASS sent when not empty
#   it_peer_send NAME LINE          # raw IRC line from that peer
#   it_peer_mark NAME               # later waits only look at newer lines
#   it_peer_expect NAME REGEX [T]   # wait (deadline T s) for a full-line match
#   it_peer_absent NAME REGEX       # no line since the mark matches
#   it_poll T DESC CMD...           # retry CMD until it succeeds or T s pass
#   it_tmux_start NAME CMD...       # run a program in a private tmux server
#   it_screen NAME                  # tmux capture-pane text (with history)
#   it_as_user_init                 # IT_AS_USER=(prefix) runs a program as an
#                                   # unprivileged user when we are root
#   it_fail MSG / it_step MSG / it_pass
#
# Everything started here is recorded by PID and killed by the EXIT trap; the
# tmux server uses a private socket inside the temp dir and is killed with
# `kill-server` on that socket only.

IT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IRCD_BIN=${IRCD_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/ircd}
IT_PEER_PY="$IT_LIB_DIR/peer.py"

declare -a IT_PIDS=()
declare -A IT_PEER_FD=() IT_PEER_LOG=() IT_PEER_PID=() IT_PEER_MARK=()
IT_TMUX_SOCK=""
IT_SERVER_PID=""
IT_FAILED=0
IT_DONE=0
IT_SIGNALED=0
IT_LAST_INDEX=""
IT_LAST_LINE=""

it_now() { date +%s.%N; }
it_elapsed() { awk -v a="$IT_T0" -v b="$(it_now)" 'BEGIN{printf "%.1f", b-a}'; }

it_log() { printf '[%s %6ss] %s\n' "$IT_NAME" "$(it_elapsed)" "$*" >&2; }
it_step() { it_log "-- $*"; }

# it_init NAME MAX_SECONDS "$@" -- must be called before anything else.
it_init() {
    IT_NAME=$1
    local max=$2
    shift 2
    if [[ -z "${IT_UNDER_TIMEOUT:-}" ]]; then
        # Hard bound on the whole script. timeout(1) signals the whole process
        # group, our EXIT/TERM traps then clean up.
        IT_UNDER_TIMEOUT=1 exec timeout -k 10 "$max" bash "$0" "$@"
    fi
    unset IT_UNDER_TIMEOUT
    IT_T0=$(it_now)
    if [[ ! -x "$IRCD_BIN" ]]; then
        echo "[$IT_NAME] IRCD_BIN=$IRCD_BIN is not an executable file" >&2
        exit 2
    fi
    IT_TMP=$(mktemp -d "/tmp/it-$IT_NAME.XXXXXX")
    trap 'it_cleanup' EXIT
    trap 'it_log "caught signal (hard timeout?)"; IT_FAILED=1; IT_SIGNALED=1; exit 124' TERM INT HUP
}

it_dump_diagnostics() {
    {
        echo "======== diagnostics ($IT_NAME, temp dir $IT_TMP) ========"
        if [[ -f "$IT_TMP/server/stderr.log" ]]; then
            echo "--- server stderr (last 40 lines)"
            tail -n 40 "$IT_TMP/server/stderr.log" | sed 's/\x1b\[[0-9;]*m//g'
        fi
        local f
        for f in "$IT_TMP"/peer-*.log.transcript; do
            [[ -f "$f" ]] || continue
            echo "--- $(basename "$f") (last 40 lines)"
            tail -n 40 "$f" | sed 's/\x01/\\x01/g'
        done
        if declare -F it_extra_diagnostics >/dev/null; then it_extra_diagnostics; fi
        echo "======== end diagnostics ========"
    } >&2
}

it_cleanup() {
    local rc=$?
    trap - EXIT TERM INT HUP
    if [[ $IT_DONE != 1 ]]; then IT_FAILED=1; fi
    # Did the server survive the test?
    # (after a signal the whole process group, server included, got it too)
    if [[ $IT_SIGNALED == 0 && -n "$IT_SERVER_PID" ]] && ! kill -0 "$IT_SERVER_PID" 2>/dev/null; then
        it_log "SERVER PROCESS DIED during the test"
        IT_FAILED=1
    fi
    if [[ -f "$IT_TMP/server/stderr.log" ]] && grep -q -E 'panicked|RUST_BACKTRACE' "$IT_TMP/server/stderr.log"; then
        it_log "SERVER PANICKED (see stderr log)"
        IT_FAILED=1
    fi
    if [[ $IT_FAILED == 1 ]]; then it_dump_diagnostics; fi
    if [[ -n "$IT_TMUX_SOCK" && -S "$IT_TMUX_SOCK" ]]; then
        timeout 5 tmux -S "$IT_TMUX_SOCK" kill-server 2>/dev/null || true
    fi
    local pid
    for pid in "${IT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    local deadline=$((SECONDS + 5))
    for pid in "${IT_PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ $IT_FAILED == 1 ]]; then
        it_log "FAIL (kept $IT_TMP)"
        ((rc == 0)) && rc=1
    else
        [[ -n "${IT_KEEP:-}" ]] || rm -rf "$IT_TMP"
        it_log "PASS"
    fi
    exit "$rc"
}

it_fail() {
    it_log "FAILED: $*"
    IT_FAILED=1
    exit 1
}

it_pass() { IT_DONE=1; exit 0; }

it_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# it_poll TIMEOUT DESC CMD... : run CMD every 0.1s until it succeeds.
it_poll() {
    local timeout=$1 desc=$2
    shift 2
    local end
    end=$(awk -v n="$(it_now)" -v t="$timeout" 'BEGIN{printf "%.3f", n+t}')
    while true; do
        if "$@"; then return 0; fi
        if awk -v n="$(it_now)" -v e="$end" 'BEGIN{exit !(n>e)}'; then
            it_fail "timed out after ${timeout}s waiting for: $desc"
        fi
        sleep 0.1
    done
}

# ---------------------------------------------------------------- server

it_start_server() {
    local attempt
    mkdir -p "$IT_TMP/server"
    for attempt in 1 2 3 4 5; do
        IT_PORT=$(it_free_port)
        cat >"$IT_TMP/server/ircd.toml" <<EOF
[server]
name = "irc.test"
network = "TestNet"
data_dir = "data"

[[listen]]
address = "127.0.0.1:$IT_PORT"

[channels]
min_idle_timeout = "1s"
warn_before = "2s"
${IT_SERVER_EXTRA_CONF:-}
EOF
        "$IRCD_BIN" --config "$IT_TMP/server/ircd.toml" >"$IT_TMP/server/stdout.log" 2>"$IT_TMP/server/stderr.log" &
        IT_SERVER_PID=$!
        IT_PIDS+=("$IT_SERVER_PID")
        local end=$((SECONDS + 10))
        while ((SECONDS < end)); do
            if ! kill -0 "$IT_SERVER_PID" 2>/dev/null; then break; fi
            if grep -q "listening" "$IT_TMP/server/stderr.log" 2>/dev/null; then
                it_log "server pid $IT_SERVER_PID listening on 127.0.0.1:$IT_PORT"
                return 0
            fi
            sleep 0.05
        done
        if grep -q "Address already in use" "$IT_TMP/server/stderr.log" 2>/dev/null; then
            it_log "port $IT_PORT was taken, retrying"
            IT_SERVER_PID=""
            continue
        fi
        it_fail "server did not start: $(tail -n 5 "$IT_TMP/server/stderr.log")"
    done
    it_fail "could not find a free port"
}

# ------------------------------------------------------------------ peers

it_peer_start() {
    it_peer_launch "$1" "$2" "$IT_PORT" "" "${3:-}"
    it_peer_expect "$1" ":irc\.test 001 $2 .*" 10 >/dev/null
    it_log "peer $1 ($2) registered"
}

it_peer_start_at() {
    it_peer_launch "$1" "$2" "$3" "$4" ""
    it_peer_expect "$1" "$5" 10 >/dev/null
    it_log "peer $1 ($2) registered at port $3"
}

# it_peer_launch NAME NICK PORT PASS CAPS: start peer.py, do not wait. A name
# may be reused once its previous peer has exited (a reattaching client).
it_peer_launch() {
    local name=$1 nick=$2 port=$3 pass=$4 caps=$5
    local ctl="$IT_TMP/peer-$name.ctl" log="$IT_TMP/peer-$name.log"
    [[ -p "$ctl" ]] || mkfifo "$ctl"
    if [[ -n "${IT_PEER_FD[$name]:-}" ]]; then
        local old=${IT_PEER_FD[$name]}
        exec {old}>&-
    fi
    # The transcript (appended to) keeps both sessions; the log starts afresh.
    : >"$log"
    python3 "$IT_PEER_PY" run --port "$port" --nick "$nick" --log "$log" --ctl "$ctl" \
        --caps "$caps" --pass "$pass" --lifetime 600 &
    IT_PEER_PID[$name]=$!
    IT_PIDS+=("$!")
    local fd
    exec {fd}<>"$ctl"
    IT_PEER_FD[$name]=$fd
    IT_PEER_LOG[$name]=$log
    IT_PEER_MARK[$name]=0
}

it_peer_send() {
    local name=$1 line=$2
    printf '%s\n' "$line" >&"${IT_PEER_FD[$name]}"
}

it_peer_count() { python3 "$IT_PEER_PY" count --log "${IT_PEER_LOG[$1]}"; }

it_peer_mark() { IT_PEER_MARK[$1]=$(it_peer_count "$1"); }

# it_peer_expect NAME REGEX [TIMEOUT]: full-line regex (Python, bytes) over
# lines received since the mark. Sets IT_LAST_INDEX / IT_LAST_LINE.
it_peer_expect() {
    local name=$1 rx=$2 timeout=${3:-10} out
    if ! out=$(python3 "$IT_PEER_PY" wait --log "${IT_PEER_LOG[$name]}" --regex "$rx" \
        --from "${IT_PEER_MARK[$name]}" --timeout "$timeout"); then
        it_fail "peer $name did not receive a line matching /$rx/ within ${timeout}s"
    fi
    IT_LAST_INDEX=${out%%$'\t'*}
    IT_LAST_LINE=${out#*$'\t'}
    it_log "peer $name got: $IT_LAST_LINE"
}

# it_peer_absent NAME REGEX [TO]: no line since the mark (up to index TO) matches.
it_peer_absent() {
    local name=$1 rx=$2 to=${3:-} out
    local args=(absent --log "${IT_PEER_LOG[$name]}" --regex "$rx" --from "${IT_PEER_MARK[$name]}")
    [[ -n "$to" ]] && args+=(--to "$to")
    if ! out=$(python3 "$IT_PEER_PY" "${args[@]}"); then
        it_fail "peer $name unexpectedly received /$rx/: $out"
    fi
}

# Send a PING with a unique token and wait for the PONG: everything the server
# queued for this peer before handling the PING has then been received.
it_peer_sync() {
    local name=$1 token="sync$RANDOM$RANDOM"
    it_peer_send "$name" "PING $token"
    it_peer_expect "$name" ":irc\.test PONG .*$token" 10 >/dev/null
}

# ------------------------------------------------------- unprivileged user

# Some programs refuse to run as root (HexChat: a modal dialog; ZNC: a 30 s
# countdown). As root, create the system user ircd-it once and set
# IT_AS_USER to a setpriv prefix (setpriv execs: the PID we record is the
# program's own, so the EXIT trap kills the right process); the temp dir is
# opened for traversal and IT_AS_USER_OWN DIR hands a directory to that user.
# As any other user IT_AS_USER is empty.
IT_AS_USER=()
it_as_user_init() {
    if ((EUID != 0)); then
        IT_AS_USER=()
        return 0
    fi
    if ! id -u ircd-it >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin ircd-it 2>/dev/null || id -u ircd-it >/dev/null ||
            it_fail "could not create the user ircd-it"
    fi
    IT_AS_USER=(setpriv --reuid=ircd-it --regid=ircd-it --init-groups --reset-env --)
    chmod 711 "$IT_TMP"
}

it_as_user_own() {
    if ((EUID == 0)); then chown -R ircd-it:ircd-it "$@"; fi
}

# ------------------------------------------------------------------- tmux

it_tmux() { timeout 10 tmux -S "$IT_TMUX_SOCK" "$@"; }

it_tmux_start() {
    local name=$1
    shift
    IT_TMUX_SOCK="$IT_TMP/tmux.sock"
    # -f /dev/null: ignore any user tmux.conf
    timeout 10 tmux -f /dev/null -S "$IT_TMUX_SOCK" new-session -d -s "$name" -x 200 -y 50 \
        -e TERM=tmux-256color "$@" || it_fail "tmux new-session failed"
    it_tmux set-option -t "$name" remain-on-exit on >/dev/null
    it_tmux set-option -t "$name" history-limit 5000 >/dev/null
    local pid
    pid=$(it_tmux display-message -p -t "$name" '#{pane_pid}')
    IT_PIDS+=("$pid")
    it_log "tmux session $name: pane pid $pid"
}

it_screen() { it_tmux capture-pane -p -J -t "$1" -S -5000; }

# it_type NAME TEXT: type a line into the tmux pane and press Enter.
it_type() {
    it_tmux send-keys -t "$1" -l "$2"
    it_tmux send-keys -t "$1" Enter
}

# it_screen_has NAME EXTENDED-REGEX
it_screen_has() {
    local text
    text=$(it_screen "$1") || return 1
    grep -q -E -- "$2" <<<"$text"
}

# it_file_has FILE EXTENDED-REGEX
it_file_has() { [[ -f "$1" ]] && grep -q -E -- "$2" "$1"; }

# ------------------------------------------------------------------ irssi

# it_irssi_start NICK: irssi in tmux session "irssi", autoconnecting to the
# test server; returns once irssi shows the 001 welcome.
it_irssi_start() {
    local nick=$1
    IRSSI_HOME="$IT_TMP/irssi"
    mkdir -p "$IRSSI_HOME"
    cat >"$IRSSI_HOME/config" <<EOF2
servers = (
  { address = "127.0.0.1"; chatnet = "TestNet"; port = "$IT_PORT";
    use_tls = "no"; tls_verify = "no"; autoconnect = "yes"; }
);
chatnets = { TestNet = { type = "IRC"; }; };
settings = {
  core = { real_name = "Irssi Tester"; user_name = "irsuser"; settings_autosave = "no"; };
  "irc/core" = { cmd_queue_speed = "10msec"; cmds_max_at_once = "50"; };
  "fe-common/core" = { autolog = "yes"; autolog_path = "$IRSSI_HOME/logs/\$tag/\$0.log"; };
};
EOF2
    it_tmux_start irssi irssi --home="$IRSSI_HOME" -n "$nick"
    it_poll 15 "irssi shows the 001 welcome" it_screen_has irssi "Welcome to the TestNet IRC Network $nick!"
}

it_irssi_diagnostics() {
    [[ -n "$IT_TMUX_SOCK" && -S "$IT_TMUX_SOCK" ]] || return 0
    echo "--- irssi screen"
    it_screen irssi 2>/dev/null | grep -v '^\s*$' | tail -n 40 || true
}

# ---------------------------------------------------------------- weechat

# it_weechat_start NICK [EXTRA]: weechat-headless with its own --dir, logger
# flushing immediately into $WLOG, FIFO at $WFIFO; EXTRA (commands, each
# ending in ";") runs just before /connect; returns once weechat got 001.
it_weechat_start() {
    local nick=$1 extra=${2:-}
    W="$IT_TMP/weechat"
    WLOG="$W/logs"
    WSRVLOG="$WLOG/irc.server.test.weechatlog"
    mkdir -p "$W"
    weechat-headless --dir "$W" -P irc,logger,fifo -r "\
/set logger.file.flush_delay 0;\
/set logger.file.path $WLOG;\
/set irc.server_default.anti_flood_prio_high 0;\
/set irc.server_default.anti_flood_prio_low 0;\
/set irc.server_default.autorejoin off;\
/server add test 127.0.0.1/$IT_PORT -nossl;\
/set irc.server.test.nicks $nick;\
/set irc.server.test.username weeuser;\
/set irc.server.test.realname \"Wee Tester\";\
$extra\
/connect test" >"$W/stdout.log" 2>&1 &
    WPID=$!
    IT_PIDS+=("$WPID")
    WFIFO="$W/weechat_fifo_$WPID"
    it_poll 10 "weechat FIFO" test -p "$WFIFO"
    it_poll 15 "weechat shows the 001 welcome" it_file_has "$WSRVLOG" "Welcome to the TestNet IRC Network $nick!"
}

# wee BUFFER COMMAND: run a command (or say text) in a weechat buffer via FIFO.
wee() {
    timeout 5 bash -c 'printf "%s *%s\n" "$1" "$2" >"$3"' _ "$1" "$2" "$WFIFO" ||
        it_fail "could not write to weechat FIFO"
}

it_weechat_diagnostics() {
    local f
    for f in "${WLOG:-/nonexistent}"/*.weechatlog; do
        [[ -f "$f" ]] || continue
        echo "--- weechat $(basename "$f") (last 25 lines)"
        tail -n 25 "$f"
    done
}

# it_line_no TEXT EXTENDED-REGEX: number of the first matching line (or fail)
it_line_no() {
    local n
    n=$(grep -n -m1 -E -- "$2" <<<"$1" | cut -d: -f1)
    [[ -n "$n" ]] || it_fail "no line matching /$2/"
    echo "$n"
}

# it_peer_time NAME EXTENDED-REGEX: transcript timestamp (seconds since the
# peer started) of the first received line matching REGEX.
it_peer_time() {
    local t
    t=$(awk -v rx="$2" '$2 == "<<" { line = $0; sub(/^ *[0-9.]+ << /, "", line); if (line ~ rx) { print $1; exit } }' \
        "${IT_PEER_LOG[$1]}.transcript")
    [[ -n "$t" ]] || it_fail "no transcript line for peer $1 matching /$2/"
    echo "$t"
}

# it_check_between DESC VALUE MIN MAX
it_check_between() {
    if awk -v v="$2" -v a="$3" -v b="$4" 'BEGIN{exit !(v>=a && v<=b)}'; then
        it_log "$1 = ${2}s (expected ${3}..${4}s)"
    else
        it_fail "$1 = ${2}s, expected between ${3}s and ${4}s"
    fi
}
