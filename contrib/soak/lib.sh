# Shared by contrib/soak/run.sh and contrib/bench/abuse.sh: build the release
# server and the load tool, start the server pinned to CPU0 with
# contrib/soak/soak.toml, stop it, count panics in its stderr.
# Sourced with ROOT (the repository) and OUT (a result folder) set.

SERVER_CPU=${SERVER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
CONF="$ROOT/contrib/soak/soak.toml"
TOOL="$ROOT/contrib/soak/target/release/ircd-soak"
IRCD="$ROOT/target/release/ircd"
ADDR=127.0.0.1:16767
# PRIO=-10: run the server and the tool at that nice level (root only), so
# that on a shared machine other builders' processes do not preempt them;
# empty (the default): normal priority.
PRIO=${PRIO:-}
NICE=()
[ -n "$PRIO" ] && NICE=(nice -n "$PRIO")

build() {
    echo "== building (release): server and load tool"
    (cd "$ROOT" && timeout 1800 cargo build --release --bin ircd) || return 1
    (cd "$ROOT/contrib/soak" && timeout 900 cargo build --release) || return 1
}

# Descriptors: thousands of clients on each side.
raise_fd_limit() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    echo "== open-file limit: $(ulimit -n)"
}

start_server() {
    rm -rf /tmp/ircd-soak-data
    if ss -ltn | grep -q ":${ADDR##*:} "; then
        echo "port ${ADDR##*:} is taken" >&2
        return 1
    fi
    # exec form (no function, no subshell): $! is the server's own pid.
    "${NICE[@]}" taskset -c "$SERVER_CPU" "$IRCD" --config "$CONF" 2>"$OUT/server.stderr" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        ss -ltn | grep -q ":${ADDR##*:} " && break
        sleep 0.1
    done
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server did not start:" >&2
        cat "$OUT/server.stderr" >&2
        return 1
    fi
    echo "== server pid $SERVER_PID on CPU$SERVER_CPU (nice ${PRIO:-0}), commit $(git -C "$ROOT" rev-parse --short HEAD), stderr in $OUT/server.stderr"
}

# Stops the server (SIGTERM, then SIGKILL after 10 s); sets PANICS and ALIVE.
stop_server() {
    ALIVE=0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        ALIVE=1
        kill -TERM "$SERVER_PID"
        for _ in $(seq 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    # The panic hook logs "panic (its message is withheld ...)", a session
    # "a handler panicked"; the default hook would say "panicked at".
    PANICS=$(grep -ci 'panic' "$OUT/server.stderr" || true)
    echo "== server stderr: $(wc -l <"$OUT/server.stderr") lines, $PANICS mentioning a panic; by message:"
    sed -E 's/^[^ ]+ +[A-Z]+ +//; s/[0-9]+/N/g' "$OUT/server.stderr" | cut -c1-100 | sort | uniq -c | sort -rn | head -15
}

machine_report() {
    echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "   busiest other processes (CPU %, since they started):"
    ps -eo pid,pcpu,comm --sort=-pcpu | awk -v s="$SERVER_PID" -v me="$$" 'NR>1 && $1!=s && $1!=me' | head -5 | sed 's/^/   /'
}
