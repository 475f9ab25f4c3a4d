#!/usr/bin/env bash
# bench/pubsub.sh — PUBLISH throughput and fan-out latency, Concord vs redis-server, in one
# interleaved run.
#
# Usage: bench/pubsub.sh [-n REQUESTS] [-c CLIENTS] [--latency-count N]
#   -n N               PUBLISH requests per redis-benchmark run (default 100000)
#   -c N               redis-benchmark clients (default 50)
#   --latency-count N  messages in the closed-loop latency test (default 2000)
# Environment:
#   CONCORD_BIN   side A (default target/release/concord, built with cargo first)
#   REDIS_BIN     side B (default /usr/bin/redis-server)
#
# Throughput: `redis-benchmark PUBLISH ch x` with 0, 1 and 50 subscribers on `ch`, held by
# bench/pubsub_helper.py (raw sockets that read and discard). Each cell runs A then B or B then A
# (alternating), so drift hits both sides alike. Latency: 50 subscribers, one publisher, each
# message published once every subscriber received the previous one; p50/p99 of publish->receipt
# over all deliveries (includes the Python reader's own time, the same for both sides).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUESTS=100000
CLIENTS=50
LAT_COUNT=2000
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) REQUESTS=$2; shift 2 ;;
        -c) CLIENTS=$2; shift 2 ;;
        --latency-count) LAT_COUNT=$2; shift 2 ;;
        *) sed -n '2,12p' "$0"; exit 2 ;;
    esac
done
for tool in redis-benchmark python3 awk; do
    command -v $tool >/dev/null || { echo "pubsub.sh: $tool not found" >&2; exit 2; }
done
if [[ -z ${CONCORD_BIN:-} ]]; then
    (cd "$ROOT" && cargo build --release -q)
    CONCORD_BIN=$ROOT/target/release/concord
fi
REDIS_BIN=${REDIS_BIN:-/usr/bin/redis-server}
HELPER=$ROOT/bench/pubsub_helper.py
WORK=$(mktemp -d /tmp/concord-pubsub-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # start SIDE PORT
    if [[ $1 == concord ]]; then
        "$CONCORD_BIN" --port "$2" >"$WORK/$1.log" 2>&1 &
    else
        "$REDIS_BIN" --port "$2" --save '' --appendonly no >"$WORK/$1.log" 2>&1 &
    fi
    PIDS+=($!)
    for _ in $(seq 100); do
        redis-cli -p "$2" ping >/dev/null 2>&1 && return
        sleep 0.05
    done
    echo "pubsub.sh: $1 did not start" >&2; exit 1
}

PORT_A=$(free_port); start concord "$PORT_A"
PORT_B=$(free_port); start redis "$PORT_B"
echo "concord: $CONCORD_BIN (port $PORT_A)"
echo "redis:   $("$REDIS_BIN" --version | awk '{print $3}') (port $PORT_B)"
echo "cpus:    $(nproc); PUBLISH requests per run $REQUESTS, $CLIENTS clients"
echo

publish_rps() { # port subscribers -> requests/s
    local port=$1 subs=$2 holder=""
    if [[ $subs -gt 0 ]]; then
        python3 "$HELPER" hold "$port" "$subs" ch >"$WORK/hold.out" &
        holder=$!
        for _ in $(seq 200); do grep -q ready "$WORK/hold.out" 2>/dev/null && break; sleep 0.05; done
    fi
    local rps
    rps=$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$REQUESTS" --csv PUBLISH ch x 2>/dev/null |
        grep -v '^"test"' | tail -n1 | awk -F'","' '{print $2}')
    [[ -n $holder ]] && { kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true; }
    echo "$rps"
}

printf "%-26s %14s %14s %8s\n" "PUBLISH throughput" "concord rps" "redis rps" "ratio"
cell=0
for subs in 0 1 50; do
    if (( cell % 2 == 0 )); then
        a=$(publish_rps "$PORT_A" "$subs"); b=$(publish_rps "$PORT_B" "$subs")
    else
        b=$(publish_rps "$PORT_B" "$subs"); a=$(publish_rps "$PORT_A" "$subs")
    fi
    cell=$((cell + 1))
    printf "%-26s %14.0f %14.0f %7.2fx\n" "$subs subscribers" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')"
done

echo
printf "%-26s %14s %14s %8s\n" "fan-out latency (50 subs)" "concord us" "redis us" "ratio"
b_lat=$(python3 "$HELPER" latency "$PORT_B" 50 "$LAT_COUNT")
a_lat=$(python3 "$HELPER" latency "$PORT_A" 50 "$LAT_COUNT")
read -r a50 a99 <<<"$a_lat"; read -r b50 b99 <<<"$b_lat"
printf "%-26s %14s %14s %7.2fx\n" "p50" "$a50" "$b50" "$(awk -v a="$a50" -v b="$b50" 'BEGIN{print a/b}')"
printf "%-26s %14s %14s %7.2fx\n" "p99" "$a99" "$b99" "$(awk -v a="$a99" -v b="$b99" 'BEGIN{print a/b}')"
echo "(throughput ratio >= 1.0 and latency ratio <= 1.0 favour Concord)"
