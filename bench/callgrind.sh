#!/usr/bin/env bash
# bench/callgrind.sh — user-space instructions per request of a lock release by EVALSHA, under
# valgrind's callgrind (deterministic, unlike timings on a shared machine).
#
# Usage: bench/callgrind.sh [SERVER_BIN] [OUT] [PIPELINE]
#   SERVER_BIN  default target/release/concord; /usr/bin/redis-server works too
#   OUT         callgrind output file (default /tmp/callgrind.out)
# Environment: N requests measured (default 20000). Needs valgrind (apt-get install valgrind).
# Instrumentation is switched on only around the measured run; prints the instructions per request
# and callgrind_annotate's top functions.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN=${1:-$ROOT/target/release/concord}; OUT=${2:-/tmp/callgrind.out}; P=${3:-1}; N=${N:-20000}
PORT=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
    "$BIN" --port "$PORT" --save "" --appendonly no >/tmp/callgrind.log 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null || true' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.3; done
SHA=$(redis-cli -p "$PORT" SCRIPT LOAD "$(cat "$ROOT/scripts/lock-release.lua")")
redis-benchmark -p "$PORT" -c 50 -n 20000 -r 100000 -P 16 SET lock:__rand_int__ owner >/dev/null 2>&1
# Warm-up, unmeasured.
redis-benchmark -p "$PORT" -c 50 -n 5000 -r 100000 -P "$P" EVALSHA "$SHA" 1 lock:__rand_int__ owner >/dev/null 2>&1
callgrind_control -i on "$SP" >/dev/null 2>&1
redis-benchmark -p "$PORT" -c 50 -n "$N" -r 100000 -P "$P" EVALSHA "$SHA" 1 lock:__rand_int__ owner >/dev/null 2>&1
callgrind_control -i off "$SP" >/dev/null 2>&1
kill "$SP"; wait "$SP" 2>/dev/null || true
total=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "instructions per request: $((total / N)) ($total over $N)"
callgrind_annotate "$OUT" 2>/dev/null | sed -n '/^Ir/,$p' | head -25
