#!/usr/bin/env bash
# bench/compare.sh — side-by-side benchmark of Concord vs Debian's redis-server.
#
# Usage: bench/compare.sh [--quick] [-n REQUESTS] [-c CLIENTS] [--mem-keys N] [--no-mem] [--no-tput]
#   --quick        fewer requests (-n 50000) for a fast smoke run
#   -n N           requests per redis-benchmark run (default 200000)
#   -c N           parallel clients (default 50)
#   --mem-keys N   keys loaded by the memory test (default 1000000)
#   --no-mem       skip the memory test;  --no-tput  skip the throughput table
#   --types        also the data-type tests (issue #4): LPUSH, RPOP, HSET, SADD, ZADD, ZPOPMIN, XADD,
#                  a BLPOP consumer + RPUSH producer pair, and memory per element of a 1M-member hash,
#                  set and sorted set
#   --only-types   just those
#   --scripts      also the scripting tests (issue #5): lock release (owner-checked GET+DEL,
#                  scripts/lock-release.lua) by EVALSHA and by EVAL, a fixed-window rate limiter
#                  (INCR, PEXPIRE NX on the first hit) by EVALSHA, and MULTI + 5 SETs + EXEC
#                  (bench/multi_exec.py; rps counts transactions, CPU per transaction)
#   --only-scripts just those
#   --rounds N     run every cell N times per server, alternating the order, and report each side's
#                  median (default 1); this box's run-to-run noise is ±10-15%, so use 5+ to resolve
#                  differences of a few percent
# Environment:
#   CONCORD_BIN    binary for side A (default: target/release/concord, built with cargo first)
#   CONCORD_ARGS   extra args for side A, word-split (e.g. "--save '' --appendonly no" when
#                  CONCORD_BIN points at redis-server to compare Redis with itself)
#   REDIS_BIN      binary for side B (default /usr/bin/redis-server)
#   PIN=1          pin servers to CPU 0 and redis-benchmark to CPU 1 (taskset)
#
# Throughput: for every test in TESTS and pipeline depth in PIPELINES, each server gets one
# redis-benchmark run (--csv, -r 100000 keyspace, -d 16), interleaved in ABBA order across cells
# (cell 1: A then B, cell 2: B then A, ...) so slow drift of the machine hits both sides alike.
# Server CPU per op = delta(utime+stime) from /proc/<pid>/stat over the run / requests. That is
# accounted in clock ticks (usually 10 ms), so use enough requests for the numbers to settle.
# Memory: a fresh instance per server and variant; VmRSS before and after loading N keys
# `key:<n>` with 16-byte values through `redis-cli --pipe`, without and with a TTL.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Throughput tests: "name|redis-benchmark args". Args are word-split; a non-option first word
# makes redis-benchmark send that custom command (__rand_int__ is replaced per request).
TESTS=(
    "SET|-t set"
    "GET|-t get"
    "INCR|-t incr"
    "SET NX PX|SET key:__rand_int__ xxxxxxxxxxxxxxxx NX PX 10000"
)
PIPELINES=(1 16)
# Data-type tests (--types). Order matters: RPOP and ZPOPMIN drain what LPUSH and ZADD filled.
TYPE_TESTS=(
    "LPUSH|-t lpush"
    "RPOP|-t rpop"
    "HSET|-t hset"
    "SADD|-t sadd"
    "ZADD|-t zadd"
    "ZPOPMIN|-t zpopmin"
    "XADD|XADD bstream * f xxxxxxxxxxxxxxxx"
    "BLPOP pair|BLPOP_PAIR"
)
DO_TYPES=0
# Scripting tests (--scripts): markers handled by run_bench (script bodies do not survive word-splitting).
SCRIPT_TESTS=(
    "LOCK EVALSHA|SCRIPT_LOCK_EVALSHA"
    "LOCK EVAL|SCRIPT_LOCK_EVAL"
    "RATE EVALSHA|SCRIPT_RATE"
    "MULTI 5xSET|SCRIPT_MULTI5"
)
DO_SCRIPTS=0
ROUNDS=1
LOCK_SCRIPT=$(cat "$ROOT/scripts/lock-release.lua")
RATE_SCRIPT="local c = redis.call('INCR', KEYS[1]) if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1], 'NX') end return c"

REQUESTS=200000
CLIENTS=50
KEYSPACE=100000
DATASIZE=16
MEM_KEYS=1000000
DO_MEM=1
DO_TPUT=1
while (($#)); do
    case $1 in
        --quick) REQUESTS=50000 ;;
        -n) REQUESTS=$2; shift ;;
        -c) CLIENTS=$2; shift ;;
        --mem-keys) MEM_KEYS=$2; shift ;;
        --no-mem) DO_MEM=0 ;;
        --no-tput) DO_TPUT=0 ;;
        --types) DO_TYPES=1 ;;
        --only-types) DO_TYPES=1; TESTS=() ;;
        --scripts) DO_SCRIPTS=1 ;;
        --only-scripts) DO_SCRIPTS=1; TESTS=() ;;
        --rounds) ROUNDS=$2; shift ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

REDIS_BIN=${REDIS_BIN:-/usr/bin/redis-server}
read -r -a CONCORD_EXTRA <<<"${CONCORD_ARGS:-}"
# CONCORD_ARGS is word-split; strip the quotes a shell user naturally types around ''.
for i in "${!CONCORD_EXTRA[@]}"; do
    [[ ${CONCORD_EXTRA[$i]} == "''" || ${CONCORD_EXTRA[$i]} == '""' ]] && CONCORD_EXTRA[i]=""
done
for tool in redis-benchmark redis-cli python3 awk; do
    command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found (apt-get install redis-tools)" >&2; exit 1; }
done
[[ -x $REDIS_BIN ]] || { echo "compare.sh: $REDIS_BIN not found (apt-get install redis-server)" >&2; exit 1; }

if [[ -z ${CONCORD_BIN:-} ]]; then
    echo "building concord (cargo build --release)..." >&2
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin concord
    CONCORD_BIN="$ROOT/target/release/concord"
fi
[[ -x $CONCORD_BIN ]] || { echo "compare.sh: CONCORD_BIN=$CONCORD_BIN is not executable" >&2; exit 1; }

SRV_PIN=() BENCH_PIN=()
if [[ ${PIN:-0} == 1 ]]; then SRV_PIN=(taskset -c 0); BENCH_PIN=(taskset -c 1); fi

WORK="$(mktemp -d /tmp/concord-bench.XXXXXX)"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CLK_TCK=$(getconf CLK_TCK)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server SIDE PORT -> sets SRV_PID. Runs in its own dir so stray dump files stay in $WORK.
start_server() {
    local side=$1 port=$2 dir="$WORK/$1-$2"
    mkdir -p "$dir"
    if [[ $side == concord ]]; then
        (cd "$dir" && exec "${SRV_PIN[@]}" "$CONCORD_BIN" --port "$port" "${CONCORD_EXTRA[@]}") \
            >"$dir/server.log" 2>&1 &
    else
        (cd "$dir" && exec "${SRV_PIN[@]}" "$REDIS_BIN" --port "$port" --bind 127.0.0.1 \
            --save '' --appendonly no) >"$dir/server.log" 2>&1 &
    fi
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    local i
    for ((i = 0; i < 100; i++)); do
        if [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; then return 0; fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "compare.sh: $side did not answer PING on port $port; log:" >&2
    tail -n 20 "$dir/server.log" >&2
    exit 1
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# Process CPU time (all threads) in clock ticks; comm may contain spaces, so cut after ')'.
cpu_ticks() {
    local rest
    rest=$(sed 's/^.*) //' "/proc/$1/stat")
    awk '{print $12 + $13}' <<<"$rest" # fields 14,15 of stat = 12,13 after "pid (comm)"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ------------------------------------------------------------------------------------------------
git_rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
if [[ $git_rev != none ]] && [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    git_rev+="-dirty"
fi
echo "# Concord vs Redis benchmark — $(date -u '+%Y-%m-%d %H:%M:%SZ')"
echo "machine:  $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r)"
echo "concord:  $CONCORD_BIN${CONCORD_EXTRA[*]+$(printf ' %q' "${CONCORD_EXTRA[@]}")} (git $git_rev)"
echo "redis:    $("$REDIS_BIN" --version)"
echo "client:   $(redis-benchmark --version 2>/dev/null || echo redis-benchmark)"
echo "params:   -n $REQUESTS -c $CLIENTS -r $KEYSPACE -d $DATASIZE, pipelines ${PIPELINES[*]}, order ABBA, rounds $ROUNDS (medians), pin=${PIN:-0}"
echo

((DO_TYPES)) && TESTS+=("${TYPE_TESTS[@]}")
((DO_SCRIPTS)) && TESTS+=("${SCRIPT_TESTS[@]}")

if ((DO_TPUT)); then
    PORT_A=$(free_port); start_server concord "$PORT_A"; PID_A=$SRV_PID
    PORT_B=$(free_port); start_server redis "$PORT_B"; PID_B=$SRV_PID

    # run_bench SIDE PORT PID PIPELINE ARGS... -> "rps p50 p99 cpu_us_per_op"
    run_bench() {
        local side=$1 port=$2 pid=$3 pipe=$4; shift 4
        local t0 t1 csv line
        if [[ $1 == BLPOP_PAIR ]]; then
            # Half the clients block in BLPOP, half push with RPUSH; every pushed element wakes one
            # consumer. rps is the consumers' rate; CPU per op counts both sides' requests.
            t0=$(cpu_ticks "$pid")
            "${BENCH_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c $((CLIENTS / 2)) -n "$REQUESTS" \
                --csv BLPOP bq 0 >"$WORK/pair.csv" 2>"$WORK/bench.err" &
            local cons=$!
            "${BENCH_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c $((CLIENTS / 2)) -n "$REQUESTS" \
                -P "$pipe" --csv RPUSH bq xxxxxxxxxxxxxxxx >/dev/null 2>>"$WORK/bench.err"
            wait "$cons"
            t1=$(cpu_ticks "$pid")
            line=$(grep -v '^"test"' "$WORK/pair.csv" | tail -n1)
            awk -F, -v dt=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$REQUESTS" \
                '{for (i = 1; i <= NF; i++) gsub(/"/, "", $i); print $2, $5, $7, dt * 1e6 / hz / (2 * n)}' <<<"$line"
            return
        fi
        case $1 in
            SCRIPT_MULTI5)
                t0=$(cpu_ticks "$pid")
                line=$("${BENCH_PIN[@]}" python3 "$ROOT/bench/multi_exec.py" 127.0.0.1 "$port" "$CLIENTS" \
                    "$REQUESTS" "$pipe") || { echo "compare.sh: multi_exec.py failed ($side)" >&2; exit 1; }
                t1=$(cpu_ticks "$pid")
                awk -v dt=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$REQUESTS" \
                    '{print $1, $2, $3, dt * 1e6 / hz / n}' <<<"$line"
                return ;;
            SCRIPT_LOCK_EVALSHA | SCRIPT_LOCK_EVAL)
                # Unmeasured: give most lock keys their owner, so releases find and delete them.
                redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -P 16 \
                    SET lock:__rand_int__ owner >/dev/null 2>&1
                if [[ $1 == SCRIPT_LOCK_EVAL ]]; then
                    set -- EVAL "$LOCK_SCRIPT" 1 lock:__rand_int__ owner
                else
                    set -- EVALSHA "$(redis-cli -p "$port" SCRIPT LOAD "$LOCK_SCRIPT")" 1 lock:__rand_int__ owner
                fi ;;
            SCRIPT_RATE)
                set -- EVALSHA "$(redis-cli -p "$port" SCRIPT LOAD "$RATE_SCRIPT")" 1 rate:__rand_int__ 60000 ;;
        esac
        t0=$(cpu_ticks "$pid")
        csv=$("${BENCH_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$REQUESTS" \
            -r "$KEYSPACE" -d "$DATASIZE" -P "$pipe" --csv "$@" 2>"$WORK/bench.err") || {
            echo "compare.sh: redis-benchmark failed against $side:" >&2; cat "$WORK/bench.err" >&2; exit 1; }
        t1=$(cpu_ticks "$pid")
        # Last CSV row is the test; columns: test,rps,avg,min,p50,p95,p99,max.
        line=$(grep -v '^"test"' <<<"$csv" | tail -n1)
        [[ -n $line ]] || { echo "compare.sh: no CSV from redis-benchmark ($side): $csv" >&2; exit 1; }
        awk -F, -v dt=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$REQUESTS" \
            '{for (i = 1; i <= NF; i++) gsub(/"/, "", $i); print $2, $5, $7, dt * 1e6 / hz / n}' <<<"$line"
    }

    # median_cols: lines of "rps p50 p99 cpu" -> one line of each column's median.
    median_cols() {
        awk 'NF { for (i = 1; i <= NF; i++) col[i, n] = $i; n++; w = NF }
             END { for (i = 1; i <= w; i++) {
                       for (j = 0; j < n; j++) v[j] = col[i, j]
                       # insertion sort: n is the number of rounds
                       for (j = 1; j < n; j++) { x = v[j]; k = j - 1
                           while (k >= 0 && v[k] > x) { v[k + 1] = v[k]; k-- } v[k + 1] = x }
                       m = n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
                       printf "%s%s", m, (i < w ? " " : "\n") } }'
    }

    printf '%-12s %4s | %10s %10s %6s | %15s %15s | %8s %8s %6s\n' \
        test pipe "concord/s" "redis/s" ratio "concord p50/p99" "redis p50/p99" "cpu µs A" "cpu µs B" ratio
    printf -- '-%.0s' {1..112}; echo
    cell=0
    for entry in "${TESTS[@]}"; do
        name=${entry%%|*}
        read -r -a args <<<"${entry#*|}"
        for pipe in "${PIPELINES[@]}"; do
            all_a="" all_b=""
            for ((round = 0; round < ROUNDS; round++)); do
                if (((cell + round) % 2 == 0)); then
                    all_a+=$(run_bench concord "$PORT_A" "$PID_A" "$pipe" "${args[@]}")$'\n'
                    all_b+=$(run_bench redis "$PORT_B" "$PID_B" "$pipe" "${args[@]}")$'\n'
                else
                    all_b+=$(run_bench redis "$PORT_B" "$PID_B" "$pipe" "${args[@]}")$'\n'
                    all_a+=$(run_bench concord "$PORT_A" "$PID_A" "$pipe" "${args[@]}")$'\n'
                fi
            done
            cell=$((cell + 1))
            ra=$(median_cols <<<"$all_a")
            rb=$(median_cols <<<"$all_b")
            read -r a_rps a_p50 a_p99 a_cpu <<<"$ra"
            read -r b_rps b_p50 b_p99 b_cpu <<<"$rb"
            awk -v name="$name" -v pipe="$pipe" \
                -v ar="$a_rps" -v br="$b_rps" -v a50="$a_p50" -v a99="$a_p99" -v b50="$b_p50" -v b99="$b_p99" \
                -v ac="$a_cpu" -v bc="$b_cpu" 'BEGIN {
                    rr = br > 0 ? sprintf("%.2f", ar / br) : "n/a"
                    cr = bc > 0 ? sprintf("%.2f", ac / bc) : "n/a"
                    printf "%-12s %4s | %10.0f %10.0f %6s | %15s %15s | %8.2f %8.2f %6s\n",
                        name, pipe, ar, br, rr, a50 "/" a99, b50 "/" b99, ac, bc, cr
                }'
        done
    done
    echo "(rps ratio = concord/redis, higher is better; latency in ms; cpu = server CPU µs per request,"
    echo " ratio = concord/redis, lower is better; CPU is sampled in ${CLK_TCK} Hz ticks)"
    stop_server "$PID_A"; stop_server "$PID_B"
    echo
fi

if ((DO_MEM)); then
    # RESP input for redis-cli --pipe, generated once per variant. Values are 16 bytes and
    # deliberately not integer-like, so neither server can store them as numbers.
    gen_resp() { # gen_resp N with_ttl
        awk -v n="$1" -v ttl="$2" 'BEGIN {
            for (i = 0; i < n; i++) {
                k = "key:" i; v = sprintf("val:%012d", i)
                if (ttl) printf "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n$2\r\nPX\r\n$7\r\n3600000\r\n", length(k), k, v
                else     printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n", length(k), k, v
            }
        }'
    }
    gen_resp "$MEM_KEYS" 0 >"$WORK/plain.resp"
    gen_resp "$MEM_KEYS" 1 >"$WORK/ttl.resp"

    # mem_run SIDE VARIANT -> sets MEM_BEFORE MEM_AFTER (KiB) and MEM_PER_KEY (bytes). Runs in
    # the main shell (not $(...)) so the server lands in PIDS and a failure exits the script.
    mem_run() {
        local side=$1 variant=$2 port pid out replies dbsize
        port=$(free_port); start_server "$side" "$port"; pid=$SRV_PID
        MEM_BEFORE=$(rss_kb "$pid")
        out=$(redis-cli -p "$port" --pipe <"$WORK/$variant.resp" 2>&1) || true
        replies=$(sed -n 's/.*errors: \([0-9]*\), replies: \([0-9]*\).*/\1 \2/p' <<<"$out")
        if [[ $replies != "0 $MEM_KEYS" ]]; then
            echo "warning: $side/$variant: redis-cli --pipe said: $(tail -n1 <<<"$out")" >&2
        fi
        dbsize=$(redis-cli -p "$port" dbsize 2>/dev/null || echo '?')
        [[ $dbsize == "$MEM_KEYS" ]] || echo "warning: $side/$variant: DBSIZE=$dbsize, expected $MEM_KEYS" >&2
        MEM_AFTER=$(rss_kb "$pid")
        stop_server "$pid"
        MEM_PER_KEY=$(( (MEM_AFTER - MEM_BEFORE) * 1024 / MEM_KEYS ))
    }

    printf 'memory: %d keys key:<n>, 16-byte values (RSS from /proc/<pid>/status)\n' "$MEM_KEYS"
    printf '%-10s | %12s %12s %10s | %12s %12s %10s | %6s\n' \
        variant "concord KiB" "" "B/key" "redis KiB" "" "B/key" ratio
    printf -- '-%.0s' {1..100}; echo
    for variant in plain ttl; do
        mem_run concord "$variant"; ab=$MEM_BEFORE aa=$MEM_AFTER ak=$MEM_PER_KEY
        mem_run redis "$variant"; bb=$MEM_BEFORE ba=$MEM_AFTER bk=$MEM_PER_KEY
        label=$variant; [[ $variant == ttl ]] && label="PX 3600000"
        awk -v l="$label" -v ab="$ab" -v aa="$aa" -v ak="$ak" -v bb="$bb" -v ba="$ba" -v bk="$bk" 'BEGIN {
            printf "%-10s | %12s %12s %10d | %12s %12s %10d | %6s\n", l, ab "->", aa, ak, bb "->", ba, bk,
                (bk > 0 ? sprintf("%.2f", ak / bk) : "n/a")
        }'
    done
    echo "(B/key = (RSS after - RSS before) / keys; ratio = concord/redis, lower is better)"

    if ((DO_TYPES)); then
        # One big collection each, 1M members, sent 100 per command.
        gen_coll() { # gen_coll N kind
            awk -v n="$1" -v kind="$2" 'BEGIN {
                for (i = 0; i < n; i += 100) {
                    m = (n - i < 100) ? n - i : 100
                    if (kind == "hash")      { printf "*%d\r\n$4\r\nHSET\r\n$3\r\nbig\r\n", 2 + 2 * m }
                    else if (kind == "set")  { printf "*%d\r\n$4\r\nSADD\r\n$3\r\nbig\r\n", 2 + m }
                    else                     { printf "*%d\r\n$4\r\nZADD\r\n$3\r\nbig\r\n", 2 + 2 * m }
                    for (j = i; j < i + m; j++) {
                        f = "member:" j; v = sprintf("val:%012d", j); sc = j ""
                        if (kind == "hash")     printf "$%d\r\n%s\r\n$16\r\n%s\r\n", length(f), f, v
                        else if (kind == "set") printf "$%d\r\n%s\r\n", length(f), f
                        else                    printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(sc), sc, length(f), f
                    }
                }
            }'
        }
        printf '\nmemory: one collection of %d members (member:<n>; hash values 16 bytes)\n' "$MEM_KEYS"
        printf '%-10s | %12s %12s %10s | %12s %12s %10s | %6s\n' \
            type "concord KiB" "" "B/member" "redis KiB" "" "B/member" ratio
        printf -- '-%.0s' {1..100}; echo
        for kind in hash set zset; do
            gen_coll "$MEM_KEYS" "$kind" >"$WORK/$kind.resp"
            for side in concord redis; do
                port=$(free_port); start_server "$side" "$port"; pid=$SRV_PID
                before=$(rss_kb "$pid")
                redis-cli -p "$port" --pipe <"$WORK/$kind.resp" >/dev/null 2>&1 || true
                after=$(rss_kb "$pid")
                stop_server "$pid"
                if [[ $side == concord ]]; then ab=$before aa=$after; else bb=$before ba=$after; fi
            done
            awk -v l="$kind" -v ab="$ab" -v aa="$aa" -v bb="$bb" -v ba="$ba" -v n="$MEM_KEYS" 'BEGIN {
                ak = (aa - ab) * 1024 / n; bk = (ba - bb) * 1024 / n
                printf "%-10s | %12s %12s %10d | %12s %12s %10d | %6s\n", l, ab "->", aa, ak, bb "->", ba, bk,
                    (bk > 0 ? sprintf("%.2f", ak / bk) : "n/a")
            }'
        done
    fi
fi
