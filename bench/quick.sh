#!/usr/bin/env bash
# First rough numbers: release nodes on a fresh database, wrk on the same machine.
#   bench/quick.sh [duration=10s] [connections=64]
#   TAMBAH_BENCH_DATABASE=postgres://postgres@127.0.0.1:5432 TAMBAH_BENCH_NODES=3 bench/quick.sh
# Prints topups/s (new refids, final status 20, durable before the answer) and
# status checks/s (resubmitted refids) with wrk's latency distribution, per node
# and in total, then the RSS of each node and `tambah verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNECTIONS=${2:-64}
NODES=${TAMBAH_BENCH_NODES:-1}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p tambah
BIN=target/release/tambah
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
if [[ -n "${TAMBAH_BENCH_DATABASE:-}" ]]; then
  export TAMBAH_DATABASE=${TAMBAH_BENCH_DATABASE%/}/tambah_bench_$$_$RANDOM
  export TAMBAH_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
else
  export TAMBAH_DATABASE=$DIR/bench.db
fi
export TAMBAH_LOG=warn
echo "== database: ${TAMBAH_DATABASE%%\?*} ($NODES node(s))"
M=$($BIN merchant create --name Bench --username bench-$$ --password bench-password --json)
ACCOUNT=$(echo "$M" | sed -E 's/.*"account":"([^"]+)".*/\1/')
$BIN deposit --account "$ACCOUNT" --amount 50000000 >/dev/null
# The benchmark merchant gets its own rate limit, far above what one node serves.
$BIN merchant update --account "$ACCOUNT" --rate-limit 10000000 >/dev/null
for n in $(seq 0 $((NODES - 1))); do
  $BIN serve --listen 127.0.0.1:$((18099 + n)) > "$DIR/out$n" 2>&1 &
  PIDS+=($!)
done
for n in $(seq 0 $((NODES - 1))); do
  for _ in $(seq 100); do grep -q "listening" "$DIR/out$n" 2>/dev/null && break; sleep 0.1; done
done
export TAMBAH_TOKEN=$(curl -s -X POST http://127.0.0.1:18099/v2/token -d username=bench-$$ -d password=bench-password \
  | sed -E 's/.*"IdToken":"([^"]+)".*/\1/')
export TAMBAH_RUN=run$RANDOM
for i in $(seq 0 999); do
  curl -s -o /dev/null -H "Authorization: Bearer $TAMBAH_TOKEN" http://127.0.0.1:18099/v2/topup \
    -d refid=$TAMBAH_RUN-seed-$i -d product=D -d account=0123456789 -d amount=10
done
# run MODE LABEL: one wrk per node at once, CONNECTIONS split between them.
run() {
  echo "== $2 ($CONNECTIONS connections over $NODES node(s), $DURATION)"
  local wrks=()
  for n in $(seq 0 $((NODES - 1))); do
    # New topups get a refid prefix per node; status checks reuse the seeds.
    local run_name=$TAMBAH_RUN
    [[ $1 == new ]] && run_name=$TAMBAH_RUN-n$n
    TAMBAH_MODE=$1 TAMBAH_RUN=$run_name wrk -t1 -c$((CONNECTIONS / NODES)) -d"$DURATION" --latency \
      -s bench/topup.lua http://127.0.0.1:$((18099 + n)) > "$DIR/wrk$n" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  for n in $(seq 0 $((NODES - 1))); do
    if [[ $NODES -gt 1 ]]; then echo "-- node $n"; fi
    grep -E "Latency|50%|90%|99%|requests in|Requests/sec|unexpected" "$DIR/wrk$n" || true
  done
  awk '/Requests\/sec/ { s += $2 } END { printf "TOTAL requests/s: %.0f\n", s }' "$DIR"/wrk*
}
run new "new topups"
run status "status checks"
for n in $(seq 0 $((NODES - 1))); do
  echo "== node $n RSS: $(ps -o rss= -p "${PIDS[$n]}" | awk '{printf "%.1f MB", $1/1024}')"
done
$BIN verify | tail -1
