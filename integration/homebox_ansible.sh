#!/usr/bin/env bash
# The ansible role: `ansible-lint` (production profile, offline) and
# `ansible-playbook --syntax-check` are clean; the example playbook runs
# against localhost (--connection=local) with the service steps off and
# installs the built binary into a scratch prefix whose config, templated
# from role variables, passes `ircd check-config`; a second run changes
# nothing; a changed variable notifies the reload handler; and the server
# started from the prefix serves a client and the templated oper.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init homebox_ansible 200 "$@"

REPO=$(cd "$IT_LIB_DIR/.." && pwd)
CLIENT="$IT_LIB_DIR/homebox_client.py"
for tool in ansible-playbook ansible-lint; do
    command -v "$tool" >/dev/null || it_fail "required tool '$tool' not found (.ci/run installs it)"
done

it_step "ansible-lint and --syntax-check"
# The Python that ansible itself runs on (discovery can pick a pyenv shim
# without an installed version behind it).
PY=$(python3 -c 'import sys; print(sys.executable)')
printf '[ircd]\nlocalhost ansible_python_interpreter=%s\n' "$PY" >"$IT_TMP/hosts"
(cd "$REPO/contrib/ansible" && ansible-lint) >"$IT_TMP/lint.log" 2>&1 ||
    it_fail "ansible-lint: $(cat "$IT_TMP/lint.log")"
it_log "ansible-lint: $(sed 's/\x1b\[[0-9;]*m//g' "$IT_TMP/lint.log" | tail -n 1)"
ansible-playbook -i "$IT_TMP/hosts" --syntax-check "$REPO/contrib/ansible/playbook.yml" >/dev/null

it_step "the playbook into a scratch prefix, service steps off"
PREFIX="$IT_TMP/root"
PLAIN=$(it_free_port)
TLS=$(it_free_port)
HASH=$(printf 'sekrit\n' | "$IRCD_BIN" mkpasswd)
cat >"$IT_TMP/vars.json" <<JSON
{
  "ircd_install": "binary",
  "ircd_binary": "$IRCD_BIN",
  "ircd_prefix": "$PREFIX",
  "ircd_manage_service": false,
  "ircd_create_user": false,
  "ircd_user": "$(id -un)",
  "ircd_group": "$(id -gn)",
  "ircd_server_name": "irc.scratch.test",
  "ircd_listen": [
    {"address": "127.0.0.1:$PLAIN"},
    {"address": "127.0.0.1:$TLS", "tls": true}
  ],
  "ircd_opers": [{"name": "admin", "password_hash": "$HASH"}]
}
JSON
play() {
    ansible-playbook -i "$IT_TMP/hosts" --connection=local \
        "$REPO/contrib/ansible/playbook.yml" -e "@$IT_TMP/vars.json" "$@"
}
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP="$IT_TMP/ansible-tmp" ANSIBLE_REMOTE_TEMP="$IT_TMP/ansible-tmp"
play >"$IT_TMP/run1.log" 2>&1 || it_fail "playbook run: $(tail -n 30 "$IT_TMP/run1.log")"
grep -E '^localhost +: ' "$IT_TMP/run1.log" >&2
"$PREFIX/usr/bin/ircd" check-config --config "$PREFIX/etc/ircd/ircd.toml" ||
    it_fail "the templated config does not pass check-config"
grep -q 'name = "irc.scratch.test"' "$PREFIX/etc/ircd/ircd.toml" || it_fail "server name not templated"

it_step "a second run changes nothing"
play >"$IT_TMP/run2.log" 2>&1 || it_fail "second run: $(tail -n 30 "$IT_TMP/run2.log")"
grep -qE '^localhost +: ok=[0-9]+ +changed=0 ' "$IT_TMP/run2.log" ||
    it_fail "second run changed something: $(grep -E '^localhost' "$IT_TMP/run2.log")"

it_step "a changed variable notifies the reload handler"
play -e ircd_network=OtherNet >"$IT_TMP/run3.log" 2>&1 || it_fail "third run: $(tail -n 30 "$IT_TMP/run3.log")"
grep -q 'RUNNING HANDLER \[ircd : Reload ircd\]' "$IT_TMP/run3.log" || it_fail "no reload handler: $(cat "$IT_TMP/run3.log")"
grep -q 'network = "OtherNet"' "$PREFIX/etc/ircd/ircd.toml" || it_fail "network not templated"

it_step "the server from the prefix serves a client and the oper"
"$PREFIX/usr/bin/ircd" --config "$PREFIX/etc/ircd/ircd.toml" 2>"$IT_TMP/server.log" &
IT_PIDS+=("$!")
it_poll 10 "the server listens" grep -q listening "$IT_TMP/server.log"
python3 "$CLIENT" "$PLAIN" alice --join '#scratch' --oper admin:sekrit || it_fail "client or oper"
python3 "$CLIENT" "$TLS" bob --tls --join '#scratch' || it_fail "TLS client"

it_pass
