#!/usr/bin/env bash
# First rough numbers: one release node on a fresh SQLite file, wrk on the same machine.
#   bench/quick.sh [duration=10s] [connections=64]
# Prints topups/s (new refids, final status 20, durable before the answer) and
# status checks/s (resubmitted refids), with wrk's latency distribution.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNECTIONS=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p tambah
BIN=target/release/tambah
DIR=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
export TAMBAH_DATABASE=$DIR/bench.db TAMBAH_LOG=warn
M=$($BIN merchant create --name Bench --username bench --password bench-password --json)
ACCOUNT=$(echo "$M" | sed -E 's/.*"account":"([^"]+)".*/\1/')
$BIN deposit --account "$ACCOUNT" --amount 50000000 >/dev/null
$BIN serve --listen 127.0.0.1:18099 > "$DIR/out" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q "listening" "$DIR/out" 2>/dev/null && break; sleep 0.1; done
export TAMBAH_TOKEN=$(curl -s -X POST http://127.0.0.1:18099/v2/token -d username=bench -d password=bench-password \
  | sed -E 's/.*"IdToken":"([^"]+)".*/\1/')
export TAMBAH_RUN=run$RANDOM
for i in $(seq 0 999); do
  curl -s -o /dev/null -H "Authorization: Bearer $TAMBAH_TOKEN" http://127.0.0.1:18099/v2/topup \
    -d refid=$TAMBAH_RUN-seed-$i -d product=D -d account=0123456789 -d amount=10
done
echo "== new topups ($CONNECTIONS connections, $DURATION)"
TAMBAH_MODE=new wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/topup.lua http://127.0.0.1:18099
echo "== status checks ($CONNECTIONS connections, $DURATION)"
TAMBAH_MODE=status wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/topup.lua http://127.0.0.1:18099
echo "== server RSS: $(ps -o rss= -p $PID | awk '{printf "%.1f MB", $1/1024}')"
$BIN verify | tail -1
