#!/usr/bin/env bash
# tests/node/bullmq-suite.sh — run BullMQ's own test suite (vitest, taskforcesh/bullmq at the version
# pinned in tests/node/package.json) against Concord and against a real redis-server, and print
# both pass counts. NOT part of scripts/test.sh: it takes ~10-20 minutes per server.
#
# Usage: tests/node/bullmq-suite.sh <bullmq-checkout> [concord|redis|both] [vitest args...]
#   <bullmq-checkout>  a tree of the bullmq repository at tag v<pinned version> (e.g. `git archive
#                      v5.81.3 | tar -x -C /work/bullmq`); this script only installs into it.
#   The second argument picks the servers (default both); further args go to vitest, e.g. a test
#   file to run just that one: tests/node/bullmq-suite.sh /work/bullmq concord tests/queue.test.ts
#   BullMQ's ioredis-only tests (its `test:ioredis`; cluster.test.ts needs a cluster, so name the others):
#   SUITE_OUT=/tmp/bullmq-ioredis tests/node/bullmq-suite.sh /work/bullmq both \
#       --config vitest.ioredis.config.ts tests/connection.test.ts tests/sandboxed_process.test.ts
#
# Environment: CONCORD_BIN (default target/release/concord), REDIS_SERVER (default redis-server),
# SUITE_PORT (default 6379: a few BullMQ tests connect to the default port whatever REDIS_PORT says,
# so the port must be free), SUITE_OUT (default /tmp/bullmq-suite) for logs and JSON reports.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="${1:?usage: $0 <bullmq-checkout> [concord|redis|both] [vitest args...]}"
SRC="$(cd "$SRC" && pwd)"
WHICH="${2:-both}"
shift $(( $# >= 2 ? 2 : 1 ))
CONCORD_BIN="${CONCORD_BIN:-$ROOT/target/release/concord}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
PORT="${SUITE_PORT:-6379}"
OUT="${SUITE_OUT:-/tmp/bullmq-suite}"
mkdir -p "$OUT"

want="$(node -p "require('$ROOT/tests/node/package.json').dependencies.bullmq")"
pkg="$SRC/package.json"
[[ -f $SRC/package.json.orig ]] && pkg="$SRC/package.json.orig"
have="$(node -p "JSON.parse(require('fs').readFileSync('$pkg', 'utf8')).version")"
# BullMQ tags the code commit and bumps package.json in the release commit after it, so the tag
# v5.81.3 says 5.81.2 here: a mismatch of one patch version is expected.
[[ $have == "$want" ]] || echo "note: checkout's package.json says $have, tests/node pins $want" >&2

# --- prepare the checkout once: only the dev dependencies the tests import (the full set pulls in
# semantic-release, vitepress, eslint ...), then BullMQ's own script generation (its `pretest`).
if [[ ! -f $SRC/.concord-prepared ]]; then
    echo "preparing $SRC"
    cd "$SRC"
    [[ -f package.json.orig ]] || cp package.json package.json.orig
    node - <<'EOF'
const fs = require('fs');
const p = JSON.parse(fs.readFileSync('package.json.orig', 'utf8'));
const keep = ['@types/node', '@types/semver', '@types/sinon', 'moment', 'progress', 'redis', 'rrule',
  'sinon', 'test-console', 'ts-node', 'typescript', 'vitest', 'fast-glob', 'rimraf', 'minimatch'];
p.devDependencies = Object.fromEntries(Object.entries(p.devDependencies).filter(([k]) => keep.includes(k)));
p.scripts = {};
fs.writeFileSync('package.json', JSON.stringify(p, null, 2));
EOF
    rm -f yarn.lock
    npm install --no-audit --no-fund --ignore-scripts --loglevel=error
    npx ts-node --project tsconfig-cjs.json scripts/generateRawScripts.ts
    node ./scripts/commandTransform.js ./rawScripts ./src/scripts
    # The sandboxed-processor tests fork dist/cjs/classes/main.js: build the CommonJS output.
    npx tsc -p tsconfig-cjs.json
    mkdir -p dist/cjs/commands/includes
    cp src/commands/*.lua dist/cjs/commands/
    cp src/commands/includes/*.lua dist/cjs/commands/includes/
    touch .concord-prepared
fi

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "port $PORT is in use; set SUITE_PORT to a free one" >&2
    exit 1
fi

server_pid=""
stop_server() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT

start_server() {
    case "$1" in
        concord) "$CONCORD_BIN" --port "$PORT" >"$OUT/$1.server.log" 2>&1 & ;;
        redis) "$REDIS_SERVER" --port "$PORT" --save '' --appendonly no --daemonize no \
                   >"$OUT/$1.server.log" 2>&1 & ;;
    esac
    server_pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$1 did not start on $PORT" >&2
    exit 1
}

run() {
    local name="$1"
    shift
    echo "=== $name on port $PORT"
    start_server "$name"
    local t0=$SECONDS
    (cd "$SRC" && REDIS_HOST=127.0.0.1 REDIS_PORT="$PORT" timeout 3600 npx vitest run --no-file-parallelism \
        --reporter=default --reporter=json --outputFile.json="$OUT/$name.json" "$@" \
        >"$OUT/$name.log" 2>&1) || true
    stop_server
    node - "$OUT/$name.json" "$name" "$((SECONDS - t0))" <<'EOF'
const [file, name, secs] = process.argv.slice(2);
let r;
try { r = require(file); } catch { console.log(`${name}: no report (see ${file.replace(/json$/, 'log')})`); process.exit(0); }
console.log(`${name}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests || 0)} skipped` +
  ` of ${r.numTotalTests} tests in ${r.numTotalTestSuites} suites (${secs}s)`);
EOF
}

case "$WHICH" in
    concord) run concord "$@" ;;
    redis) run redis "$@" ;;
    both) run concord "$@"; run redis "$@" ;;
    *) echo "unknown target $WHICH" >&2; exit 2 ;;
esac
echo "logs and JSON reports in $OUT (failed test names: jq -r '.testResults[].assertionResults[] | select(.status==\"failed\") | .fullName' $OUT/<server>.json)"
