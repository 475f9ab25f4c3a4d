#!/usr/bin/env bash
# scripts/redis-tcl.sh — run Redis's own Tcl test units against Concord (or redis-server).
#
# Usage: scripts/redis-tcl.sh [concord|redis|/path/to/server-binary] [unit/X ...]
#   First argument picks the server (default: concord). Remaining arguments are test units,
#   relative to $REDIS_SRC/tests without the .tcl suffix (default: the list in DEFAULT_UNITS).
#   Each unit gets a fresh server on a free port and its own runtest invocation, so one unit
#   that dies (a Tcl exception) does not hide the results of the others.
#
# Needs a redis/redis checkout at tag 7.0.15 in $REDIS_SRC (default /work/redis-src); nothing is
# built there, only ./runtest and tests/ are used. Tcl 8.6 comes from Debian's `tcl` package.
#
# Environment:
#   REDIS_SRC        the redis/redis 7.0.15 checkout (default /work/redis-src)
#   CONCORD_BIN      Concord binary (default: target/release/concord, built with cargo first)
#   REDIS_BIN        redis-server binary for `redis` (default: redis-server on PATH)
#   REDIS_TCL_TAGS   override the --tags filter below
#   REDIS_TCL_ARGS   extra runtest flags, word-split (e.g. "--ignore-encoding --singledb --verbose")
#   REDIS_TCL_UNIT_TIMEOUT  seconds before one unit is killed (default 900)
#   LOGDIR           where logs go (default /tmp/concord-tcl.<server>.<timestamp>)
#
# Flags passed to runtest, and why:
#   --host 127.0.0.1 --port N   external-server mode (what Redis's own CI job "External Server
#                    Tests", .github/workflows/external.yml, does). In this mode runtest never
#                    spawns servers: tests tagged `external:skip` are skipped, nested
#                    start_server blocks reuse the same server, and each start_server block
#                    begins with FLUSHALL + FUNCTION FLUSH (so the server must accept both).
#   --single unit/X  run only that unit.
#   --tags "..."     deny-list of tags. Redis's CI uses `--tags -slow` against a server started
#                    with --enable-debug-command, and `--tags "-slow -needs:debug"` against a
#                    plain one. We go further and also deny every `needs:*` capability Concord
#                    does not aim to offer an external test client (replication, DEBUG, PFDEBUG,
#                    CONFIG SET maxmemory, CONFIG RESETSTAT, RESET, SAVE, LATENCY, access to the
#                    server's process/logs). Slow tests are kept: in these units they are the
#                    real-time expiry checks (EXPIRE/SETEX "after 2.1 seconds"), which matter.
#                    The same filter is used for both servers, so their counts compare directly.
#   --durable        a test that raises a Tcl error (e.g. "ERR unknown command") is counted as
#                    [err] and the unit goes on, instead of aborting the whole unit.
#   --clients 1 --timeout 300   one test client (external mode uses one anyway); give up after
#                    300 s without progress.
# Note: unit/info is tagged external:skip as a whole, so it reports 0 tests in this mode;
# unit/info-command covers INFO from the outside.
#
# Output: a per-unit table of ok / err / exception / ignored counts, then a closing line
# "tcl: N passed, N failed". Full logs (runtest output and server log per unit) in $LOGDIR.
# Exit status: 0 if every unit passed cleanly, 1 if any test failed, 2 on setup problems.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDIS_SRC=${REDIS_SRC:-/work/redis-src}
DEFAULT_UNITS=(unit/type/string unit/type/incr unit/expire unit/keyspace unit/protocol unit/info)
DEFAULT_TAGS="-needs:repl -needs:debug -needs:pfdebug -needs:config-maxmemory -needs:config-resetstat -needs:reset -needs:save -needs:latency -needs:local-process"
TAGS=${REDIS_TCL_TAGS-$DEFAULT_TAGS}
UNIT_TIMEOUT=${REDIS_TCL_UNIT_TIMEOUT:-900}
read -r -a EXTRA_ARGS <<<"${REDIS_TCL_ARGS:-}"

usage() { sed -n '2,8p' "$0"; }

if [[ ! -x $REDIS_SRC/runtest || ! -f $REDIS_SRC/tests/test_helper.tcl ]]; then
    cat >&2 <<EOF
redis-tcl.sh: no redis/redis checkout at REDIS_SRC=$REDIS_SRC
Get one at tag 7.0.15, for example:
    git clone --branch 7.0.15 --depth 1 https://github.com/redis/redis.git $REDIS_SRC
or, from an existing clone or mirror:
    git --git-dir=/path/to/redis.git worktree add $REDIS_SRC 7.0.15
(the Tcl suite only needs ./runtest and tests/; nothing has to be built), then re-run.
EOF
    exit 2
fi
src_version=$(sed -n 's/^#define REDIS_VERSION "\(.*\)"/\1/p' "$REDIS_SRC/src/version.h" 2>/dev/null || true)
if [[ $src_version != 7.0.15 ]]; then
    echo "redis-tcl.sh: warning: $REDIS_SRC is Redis ${src_version:-unknown}, expected 7.0.15" >&2
fi
command -v tclsh8.6 >/dev/null || command -v tclsh8.5 >/dev/null || command -v tclsh8.7 >/dev/null ||
    { echo "redis-tcl.sh: tclsh 8.5+ not found (apt-get install tcl)" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "redis-tcl.sh: redis-cli not found (apt-get install redis-tools)" >&2; exit 2; }

target=${1:-concord}
[[ $# -gt 0 ]] && shift
case $target in
    -h|--help) usage; exit 0 ;;
    concord)
        if [[ -z ${CONCORD_BIN:-} ]]; then
            echo "building concord (cargo build --release)..." >&2
            cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin concord
            CONCORD_BIN="$ROOT/target/release/concord"
        fi
        SERVER_BIN=$CONCORD_BIN; KIND=concord ;;
    redis)
        SERVER_BIN=${REDIS_BIN:-$(command -v redis-server || true)}; KIND=redis ;;
    *)
        SERVER_BIN=$target
        # A redis-server binary needs persistence switched off; anything else is run like Concord.
        if [[ $("$SERVER_BIN" --version 2>/dev/null) == "Redis server"* ]]; then KIND=redis; else KIND=concord; fi ;;
esac
[[ -n $SERVER_BIN && -x $SERVER_BIN ]] || { echo "redis-tcl.sh: server binary '$SERVER_BIN' not found" >&2; exit 2; }
UNITS=("$@")
((${#UNITS[@]})) || UNITS=("${DEFAULT_UNITS[@]}")
for u in "${UNITS[@]}"; do
    [[ -f $REDIS_SRC/tests/$u.tcl ]] || { echo "redis-tcl.sh: no such unit: $REDIS_SRC/tests/$u.tcl" >&2; exit 2; }
done

LOGDIR=${LOGDIR:-/tmp/concord-tcl.$(basename "$target").$(date +%Y%m%d-%H%M%S)}
mkdir -p "$LOGDIR"

SRV_PID=""
stop_server() {
    if [[ -n $SRV_PID ]]; then
        kill "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
        SRV_PID=""
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() { # start_server PORT LOG
    local port=$1 log=$2 dir
    dir=$(mktemp -d "$LOGDIR/srv.XXXXXX")
    if [[ $KIND == redis ]]; then
        (cd "$dir" && exec "$SERVER_BIN" --port "$port" --bind 127.0.0.1 --save '' --appendonly no) >"$log" 2>&1 &
    else
        (cd "$dir" && exec "$SERVER_BIN" --port "$port") >"$log" 2>&1 &
    fi
    SRV_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "redis-tcl.sh: server did not answer PING on port $port; see $log" >&2
    tail -n 20 "$log" >&2
    exit 2
}

echo "server:  $SERVER_BIN ($("$SERVER_BIN" --version 2>/dev/null | head -n1 || true))"
echo "suite:   $REDIS_SRC (Redis ${src_version:-?})"
echo "tags:    $TAGS"
echo "logs:    $LOGDIR"
echo
printf '%-28s %6s %6s %6s %8s  %s\n' unit ok err exc ignored status
total_ok=0 total_bad=0 any_fail=0
for unit in "${UNITS[@]}"; do
    name=${unit//\//_}
    log="$LOGDIR/$name.log"
    port=$(free_port)
    start_server "$port" "$LOGDIR/$name.server.log"
    rc=0
    (cd "$REDIS_SRC" && TERM=dumb timeout --kill-after=10 "$UNIT_TIMEOUT" ./runtest \
        --host 127.0.0.1 --port "$port" --single "$unit" --tags "$TAGS" \
        --durable --clients 1 --timeout 300 "${EXTRA_ARGS[@]}") >"$log" 2>&1 </dev/null || rc=$?
    # The server must survive the unit; a crash is a failure even if the counts look fine.
    alive=1; kill -0 "$SRV_PID" 2>/dev/null || alive=0
    stop_server
    clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
    ok=$(grep -c '^\[ok\]:' <<<"$clean" || true)
    err=$(grep -c '^\[err\]:' <<<"$clean" || true)
    exc=$(grep -c '^\[exception\]:' <<<"$clean" || true)
    ign=$(grep -c '^\[ignore\]:' <<<"$clean" || true)
    if ((rc == 124 || rc == 137)); then status="TIMEOUT"
    elif ((!alive)); then status="SERVER DIED"
    elif ((exc > 0)); then status="EXCEPTION (unit aborted)"
    elif ((err > 0 || rc != 0)); then status="FAIL (rc=$rc)"
    else status="pass"; fi
    [[ $status == pass ]] || any_fail=1
    # A unit that aborted early counts as one failure even if no [err] line was printed.
    bad=$((err + exc)); ((bad == 0 && rc != 0)) && bad=1
    total_ok=$((total_ok + ok)); total_bad=$((total_bad + bad))
    printf '%-28s %6d %6d %6d %8d  %s\n' "$unit" "$ok" "$err" "$exc" "$ign" "$status"
done
echo
if ((total_bad > 0 || any_fail)); then
    echo "failures (first lines; full output in $LOGDIR):"
    for unit in "${UNITS[@]}"; do
        sed 's/\x1b\[[0-9;]*m//g' "$LOGDIR/${unit//\//_}.log" |
            grep -E '^\[(err|exception)\]:' | head -n 20 | sed "s|^|  $unit: |" || true
    done
    echo
fi
echo "tcl: $total_ok passed, $total_bad failed"
((any_fail == 0))
