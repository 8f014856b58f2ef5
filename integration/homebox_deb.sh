#!/usr/bin/env bash
# The Debian package and the systemd unit, end to end, as root:
#   the unit passes `systemd-analyze verify` and scores an exposure of at most
#   2.0 in `systemd-analyze security --offline=yes`; `cargo deb` builds the
#   package from the built binary; lintian shows no errors; `dpkg -i` installs
#   it (the ircd user, /var/lib/ircd, /etc/ircd/ircd.toml as a conffile);
#   `ircd check-config --config /etc/ircd/ircd.toml` passes; the installed
#   binary runs from the installed files as the ircd user (with the unit's
#   capability bounding set and no-new-privileges); clients register and join
#   over TCP and TLS; the certbot deploy hook swaps in a new certificate and
#   reloads without dropping anyone; SIGTERM stops it with exit 0; `dpkg -r`
#   removes the program and keeps the conffiles, `dpkg --purge` removes the
#   rest, and the machine is as it was before.
#
# systemd is not PID 1 in this sandbox, so the unit is checked with
# systemd-analyze and the server is started the way the unit would start it:
# as ircd, with the unit's capability bounding set and no-new-privileges, and
# under the seccomp filter that homebox_sandbox.py builds from the installed
# unit (SystemCallFilter, RestrictAddressFamilies, MemoryDenyWriteExecute).
# The installed config listens on 127.0.0.1:6667 and 6697 as shipped.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init homebox_deb 200 "$@"

REPO=$(cd "$IT_LIB_DIR/.." && pwd)
CLIENT="$IT_LIB_DIR/homebox_client.py"
SANDBOX="$IT_LIB_DIR/homebox_sandbox.py"
UNIT="$REPO/contrib/systemd/ircd.service"
INSTALLED=0

((EUID == 0)) || it_fail "needs root (dpkg -i, the ircd user)"
for tool in cargo-deb lintian dpkg systemd-analyze setpriv openssl adduser; do
    command -v "$tool" >/dev/null || it_fail "required tool '$tool' not found (.ci/run installs it)"
done
/usr/bin/python3 -c 'import seccomp' 2>/dev/null || it_fail "python3-seccomp not installed (.ci/run installs it)"
if dpkg-query -W -f='${Status}' ircd 2>/dev/null | grep -q ' installed$'; then
    it_fail "a package named ircd is already installed here; not touching it"
fi
for port in 6667 6697; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        it_fail "127.0.0.1:$port is taken; the installed config listens there"
    fi
done

# Everything the package could leave behind, to compare before and after.
machine_state() {
    getent passwd ircd || true
    getent group ircd || true
    find /etc /var/lib /usr/bin /usr/share /usr/lib /lib \
        -path /var/lib/dpkg -prune -o -name '*ircd*' -print 2>/dev/null | sort
    dpkg-query -W -f='${Status}\n' ircd 2>/dev/null || true
}
machine_state >"$IT_TMP/before.txt"

# If anything fails once the package is in, purge it so the machine is left
# as it was (the server, in IT_PIDS, is stopped first).
cleanup_package() {
    if ((INSTALLED)); then
        for pid in "${IT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        sleep 0.5
        dpkg --purge ircd >/dev/null 2>&1 || true
    fi
}
trap 'rc=$?; cleanup_package; set +e; (exit $rc); it_cleanup' EXIT

it_step "the unit: exposure at most 2.0"
security=$(cd "$IT_TMP" && systemd-analyze security --offline=yes "$UNIT" 2>&1) ||
    it_fail "systemd-analyze security failed: $security"
exposure=$(sed -n 's/.*Overall exposure level for ircd.service: \([0-9.]*\).*/\1/p' <<<"$security")
[[ -n "$exposure" ]] || it_fail "no exposure level in: $security"
awk -v e="$exposure" 'BEGIN{exit !(e <= 2.0)}' || it_fail "exposure $exposure > 2.0"
it_log "exposure level: $exposure"

it_step "cargo deb"
[[ -x "$REPO/target/release/ircd" ]] || (cd "$REPO" && cargo build --release)
# `cargo test` leaves its own build (with test hooks) at that path; the
# package must hold the shipped binary (run_all.sh builds it first).
if grep -q "test hook panicked" "$REPO/target/release/ircd"; then
    it_fail "target/release/ircd is the test build (test hooks); run cargo build --release first"
fi
deb=$(cd "$REPO" && cargo deb --no-build --strip 2>"$IT_TMP/cargo-deb.log" | tail -n 1) ||
    it_fail "cargo deb failed: $(tail -n 20 "$IT_TMP/cargo-deb.log")"
[[ -f "$deb" ]] || it_fail "cargo deb printed no package path: $deb"
it_log "built $deb"
dpkg-deb -c "$deb" >"$IT_TMP/contents.txt"
for f in ./usr/bin/ircd ./etc/ircd/ircd.toml ./etc/ircd/motd.txt ircd.service \
    ./usr/share/doc/ircd/README.md ./usr/share/doc/ircd/examples/ircd.toml.example \
    ./usr/share/ircd/certbot-deploy-hook; do
    grep -qF "$f" "$IT_TMP/contents.txt" || it_fail "$f is not in the package"
done
dpkg-deb -f "$deb" Depends | grep -q adduser || it_fail "Depends lacks adduser"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/ircd/ircd.toml || it_fail "ircd.toml is not a conffile"

it_step "lintian"
lintian --fail-on error --tag-display-limit 0 "$deb" >"$IT_TMP/lintian.txt" 2>&1 || {
    cat "$IT_TMP/lintian.txt" >&2
    it_fail "lintian reports errors"
}
it_log "lintian: $(grep -c '^E:' "$IT_TMP/lintian.txt" || true) errors, $(grep -c '^W:' "$IT_TMP/lintian.txt" || true) warnings"
sed 's/^/  lintian: /' "$IT_TMP/lintian.txt" >&2

it_step "dpkg -i"
INSTALLED=1
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >"$IT_TMP/dpkg-i.log" 2>&1 ||
    it_fail "dpkg -i failed: $(cat "$IT_TMP/dpkg-i.log")"
getent passwd ircd >/dev/null || it_fail "no ircd user"
[[ $(stat -c '%U:%G %a' /var/lib/ircd) == "ircd:ircd 750" ]] || it_fail "/var/lib/ircd: $(stat -c '%U:%G %a' /var/lib/ircd)"
[[ $(stat -c '%U:%G %a' /etc/ircd/ircd.toml) == "root:ircd 640" ]] || it_fail "ircd.toml: $(stat -c '%U:%G %a' /etc/ircd/ircd.toml)"
unit_path=$(dpkg -L ircd | grep '/ircd\.service$')
it_log "unit installed as $unit_path"
(cd "$IT_TMP" && systemd-analyze verify "$unit_path") >"$IT_TMP/verify.log" 2>&1 ||
    it_fail "systemd-analyze verify: $(cat "$IT_TMP/verify.log")"
[[ ! -s "$IT_TMP/verify.log" ]] || it_fail "systemd-analyze verify complained: $(cat "$IT_TMP/verify.log")"
it_log "systemd-analyze verify $unit_path: clean"

it_step "check-config, as root and as the ircd user"
/usr/bin/ircd check-config --config /etc/ircd/ircd.toml
runuser -u ircd -- /usr/bin/ircd check-config --config /etc/ircd/ircd.toml

it_step "the unit's seccomp filter bites"
sandboxed() { setpriv --no-new-privs /usr/bin/python3 "$SANDBOX" "$unit_path" -- "$@"; }
touch "$IT_TMP/owned"
if sandboxed chown 0:0 "$IT_TMP/owned" 2>/dev/null; then it_fail "chown (@privileged) was allowed"; fi
if sandboxed /usr/bin/python3 -c 'import mmap; mmap.mmap(-1, 4096, prot=7)' 2>/dev/null; then
    it_fail "a writable and executable mapping was allowed"
fi
if sandboxed /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)' 2>/dev/null; then
    it_fail "an AF_NETLINK socket was allowed"
fi

it_step "the server from the installed files, as ircd, sandboxed like the unit"
# As the unit runs it: user ircd, working directory /var/lib/ircd, only
# CAP_NET_BIND_SERVICE in the bounding set, no new privileges, UMask 0077,
# the unit's seccomp filter.
(
    cd /var/lib/ircd
    umask 0077
    exec setpriv --reuid=ircd --regid=ircd --init-groups --no-new-privs \
        --bounding-set=-all,+net_bind_service \
        /usr/bin/python3 "$SANDBOX" "$unit_path" -- \
        /usr/bin/ircd --config /etc/ircd/ircd.toml
) 2>"$IT_TMP/server.log" &
SERVER=$!
IT_PIDS+=("$SERVER")
it_poll 10 "the installed server listens" grep -q listening "$IT_TMP/server.log"
it_log "$(grep -m1 homebox_sandbox "$IT_TMP/server.log")"
[[ $(ps -o user= -p "$SERVER") == ircd ]] || it_fail "server runs as $(ps -o user= -p "$SERVER")"
grep -q $'\e\[' "$IT_TMP/server.log" && it_fail "ANSI colours in logs to a non-terminal"
[[ $(stat -c '%U' /var/lib/ircd/tls-cert.pem) == ircd ]] || it_fail "generated certificate not owned by ircd"

it_step "clients register and join over TCP and TLS"
python3 "$CLIENT" 6667 alice --join '#home' || it_fail "plaintext client"
python3 "$CLIENT" 6697 bob --tls --join '#home' || it_fail "TLS client"
WATCHER=$(python3 "$CLIENT" 6667 watcher --join '#home' --hold "$IT_TMP/watcher.log") ||
    it_fail "watcher client"
IT_PIDS+=("$WATCHER")

it_step "certbot deploy hook: a new certificate, reloaded without dropping anyone"
served_subject() {
    openssl s_client -connect 127.0.0.1:6697 -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -subject
}
before_subject=$(served_subject)
lineage="$IT_TMP/letsencrypt/live/irc.test"
mkdir -p "$lineage"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=irc.test" \
    -keyout "$lineage/privkey.pem" -out "$lineage/fullchain.pem" 2>/dev/null
cp /etc/ircd/ircd.toml "$IT_TMP/ircd.toml.orig"
printf '\n[tls]\ncert = "/etc/ircd/tls/fullchain.pem"\nkey = "/etc/ircd/tls/privkey.pem"\n' >>/etc/ircd/ircd.toml
RENEWED_LINEAGE=$lineage IRCD_RELOAD="kill -HUP $SERVER" /usr/share/ircd/certbot-deploy-hook
[[ $(stat -c '%U:%G %a' /etc/ircd/tls/privkey.pem) == "root:ircd 640" ]] || it_fail "copied key: $(stat -c '%U:%G %a' /etc/ircd/tls/privkey.pem)"
it_poll 10 "the server serves the renewed certificate" \
    bash -c "openssl s_client -connect 127.0.0.1:6697 </dev/null 2>/dev/null | openssl x509 -noout -subject | grep -q 'CN *= *irc.test'"
it_log "served before: $before_subject; after: $(served_subject)"
grep -q "configuration reloaded" "$IT_TMP/server.log" || it_fail "no reload in the log"
python3 "$CLIENT" 6697 carol --tls --join '#home' || it_fail "TLS client after the reload"
grep -q "JOIN #home" "$IT_TMP/watcher.log" || it_fail "watcher saw no joins"
grep -q "<closed>" "$IT_TMP/watcher.log" && it_fail "the reload dropped the watcher"

it_step "SIGTERM stops it, exit status 0"
kill -TERM "$SERVER"
rc=0
wait "$SERVER" || rc=$?
((rc == 0)) || it_fail "server exit status $rc"
it_poll 5 "watcher told and closed" grep -q "<closed>" "$IT_TMP/watcher.log"
grep -q "^ERROR :Server shutting down" "$IT_TMP/watcher.log" || it_fail "no ERROR line: $(cat "$IT_TMP/watcher.log")"

it_step "dpkg -r keeps the conffiles, dpkg --purge leaves the machine as it was"
dpkg -r ircd >"$IT_TMP/dpkg-r.log" 2>&1 || it_fail "dpkg -r: $(cat "$IT_TMP/dpkg-r.log")"
[[ ! -e /usr/bin/ircd && ! -e "$unit_path" ]] || it_fail "dpkg -r left the program or the unit"
[[ -f /etc/ircd/ircd.toml ]] || it_fail "dpkg -r removed the conffile"
dpkg --purge ircd >"$IT_TMP/dpkg-purge.log" 2>&1 || it_fail "dpkg --purge: $(cat "$IT_TMP/dpkg-purge.log")"
INSTALLED=0
machine_state >"$IT_TMP/after.txt"
diff -u "$IT_TMP/before.txt" "$IT_TMP/after.txt" >&2 || it_fail "the machine differs after purge"

it_pass
