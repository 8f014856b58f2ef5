#!/usr/bin/env bash
# matrix-org-irc (npm; the IRC client library of matrix-appservice-irc) runs
# its own integration tests, the spec/ its npm package ships (TypeScript, on
# the library's TestIrcServer rig, pointed at us by IRC_TEST_PORT), plus
# integration/node/matrix_org_irc_bridge.spec.ts for what the bridge uses
# beyond them (NOTICE, ACTION, PM, NICK, PART, KICK, INVITE, TOPIC, QUIT,
# WHOIS, long-message splitting, a nick clash before 001, SASL PLAIN).
# The package's spec/, src/ and tsconfig.json are copied from
# integration/node/node_modules into the temp dir (jest does not collect tests
# under node_modules) and run by jest + ts-jest at the versions pinned in
# integration/node/package.json. Every test must pass, and the count is
# checked so that a suite that silently runs nothing fails.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init matrix_org_irc 180 "$@"

NODE_DIR="$IT_LIB_DIR/node"
PKG="$NODE_DIR/node_modules/matrix-org-irc"
command -v node >/dev/null || it_fail "node not found"
[[ -f "$PKG/spec/client.spec.ts" && -x "$NODE_DIR/node_modules/.bin/jest" ]] ||
    it_fail "run: npm install --prefix $NODE_DIR (done by .ci/run)"
# The library's spec files and how many tests each holds (3.0.0).
SHIPPED=(client.spec.ts external-connection.spec.ts)
EXPECTED_TESTS=22 # 8 + 2 shipped, 12 in matrix_org_irc_bridge.spec.ts

IT_SERVER_EXTRA_CONF=$'[services]\nbcrypt_cost = 4'
it_start_server

it_step "matrix-org-irc $(node -p "require('$PKG/package.json').version"): its spec/ and ours, in $IT_TMP/mirc"
W="$IT_TMP/mirc"
mkdir -p "$W/spec"
cp -r "$PKG/src" "$PKG/tsconfig.json" "$W/"
for f in "${SHIPPED[@]}"; do cp "$PKG/spec/$f" "$W/spec/"; done
cp "$NODE_DIR/matrix_org_irc_bridge.spec.ts" "$W/spec/"
ln -s "$NODE_DIR/node_modules" "$W/node_modules"
# The library's spec awaits a JOIN being *sent*, not being done, and then
# acts on another connection (e.g. "can join a channel and send a message":
# listener JOIN, speaker JOIN + PRIVMSG in the same millisecond), so on a
# server that runs connections in parallel a loaded machine can reorder them
# and the listener misses the message. Its files get up to 2 retries, each
# one reported below; ours wait for the events and get none.
cat >"$W/retry.js" <<'EOF'
jest.retryTimes(2, { logErrorsBeforeRetry: true });
EOF
cat >"$W/jest.config.js" <<EOF
// As the package's own jest.config.js (ts-jest, node, 15 s per test).
const common = { rootDir: __dirname, preset: 'ts-jest', testEnvironment: 'node' };
module.exports = {
    testTimeout: 15000,
    projects: [
        { ...common, displayName: 'shipped', setupFilesAfterEnv: ['<rootDir>/retry.js'],
          testMatch: [$(printf "'<rootDir>/spec/%s', " "${SHIPPED[@]}")] },
        { ...common, displayName: 'bridge', testMatch: ['<rootDir>/spec/matrix_org_irc_bridge.spec.ts'] },
    ],
};
EOF

it_step "jest (IRC_TEST_PORT=$IT_PORT)"
rc=0
(cd "$W" && IRC_TEST_ADDRESS=127.0.0.1 IRC_TEST_PORT=$IT_PORT timeout 150 \
    node node_modules/jest/bin/jest.js --config jest.config.js --ci --runInBand \
    --cacheDirectory "$IT_TMP/jest-cache" --json --outputFile "$W/results.json" \
    >"$W/jest.out" 2>&1) || rc=$?
[[ -f "$W/results.json" ]] || { tail -n 40 "$W/jest.out" >&2; it_fail "jest wrote no results (exit $rc)"; }

# One line per test, then the counts.
summary=$(python3 - "$W/results.json" <<'EOF'
import json, os, sys
r = json.load(open(sys.argv[1]))
for suite in r["testResults"]:
    name = os.path.basename(suite["name"])
    for t in suite["assertionResults"]:
        tries = t.get("invocations") or 1
        print("%-4s %s: %s%s" % ("ok" if t["status"] == "passed" else t["status"].upper(),
                                 name, t["fullName"],
                                 " (passed on try %d)" % tries if tries > 1 and t["status"] == "passed" else ""))
        for m in t.get("retryReasons") or []:
            print("       retried after: " + m.splitlines()[0])
        for m in t.get("failureMessages") or []:
            print("       " + m.splitlines()[0])
    if suite.get("message") and not suite["assertionResults"]:
        print("FAIL %s: %s" % (name, suite["message"].splitlines()[0]))
print("COUNTS %d %d %d" % (r["numPassedTests"], r["numFailedTests"], r["numTotalTests"]))
EOF
)
printf '%s\n' "$summary" | grep -v '^COUNTS' >&2
read -r _ passed failed total <<<"$(grep '^COUNTS' <<<"$summary")"
it_log "matrix-org-irc spec: $passed passed, $failed failed, $total in all (jest exit $rc)"
((failed == 0 && rc == 0)) || { grep -v '^\s*at ' "$W/jest.out" | tail -n 60 >&2; it_fail "$failed test(s) failed"; }
((total == EXPECTED_TESTS)) || it_fail "ran $total tests, expected $EXPECTED_TESTS"

it_pass
