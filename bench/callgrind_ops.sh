#!/usr/bin/env bash
# bench/callgrind_ops.sh — user-space instructions per request under valgrind's callgrind for SET, GET
# and INCR (redis-benchmark, -P 1 and 16) and MULTI + 5 SETs + EXEC (bench/multi_exec.py), for one or
# more server binaries side by side. Deterministic where timings on a shared 2-core box are not: use it
# to check that a change to the apply path costs nothing (bench/callgrind.sh does the same for a lock
# release by EVALSHA).
#
# Usage: bench/callgrind_ops.sh BIN [BIN ...]     e.g. an old build against target/release/concord
# Environment: N requests measured per cell (default 50000). Needs valgrind and redis-tools.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N=${N:-50000}
(($#)) || { echo "usage: $0 BIN [BIN ...]" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "$0: valgrind not found (apt-get install valgrind)" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# measure BIN KIND ARGS PIPE -> instructions per request (KIND: bench | multi)
measure() {
    local bin=$1 kind=$2 args=$3 pipe=$4 port out pid total
    port=$(free_port)
    out=$(mktemp /tmp/callgrind-ops.XXXXXX)
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$bin" --port "$port" --save '' --appendonly no >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 150); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.2; done
    run() {
        if [[ $kind == multi ]]; then
            python3 "$ROOT/bench/multi_exec.py" 127.0.0.1 "$port" 10 "$1" "$pipe" >/dev/null
        else
            # shellcheck disable=SC2086
            redis-benchmark -p "$port" $args -n "$1" -c 50 -r 100000 -d 16 -P "$pipe" -q >/dev/null
        fi
    }
    run 5000 # warm-up, unmeasured
    callgrind_control -i on "$pid" >/dev/null 2>&1
    run "$N"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    rm -f "$out"
    echo $((total / N))
}

printf '%-22s' "cell"
for bin in "$@"; do printf '%16s' "$(basename "$(dirname "$bin")")/$(basename "$bin")"; done
echo
for cell in "SET|bench|-t set|1" "SET|bench|-t set|16" "GET|bench|-t get|1" "GET|bench|-t get|16" \
    "INCR|bench|-t incr|1" "INCR|bench|-t incr|16" "MULTI 5xSET EXEC|multi||1"; do
    IFS='|' read -r name kind args pipe <<<"$cell"
    printf '%-22s' "$name -P$pipe"
    for bin in "$@"; do printf '%16s' "$(measure "$bin" "$kind" "$args" "$pipe")"; done
    echo
done
