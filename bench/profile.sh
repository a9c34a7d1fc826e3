#!/usr/bin/env bash
# Where the CPU goes under bench/run.sh's closed-loop runs: a system-wide perf profile (the
# node's request threads, its writer thread, wrk, the kernel, PostgreSQL) while wrk sends
# topups, then status checks, to one node; and first while the same wrk script's status
# checks go to axum answering a canned answer (what wrk and the kernel cost on their own). The next round of performance work starts from it.
#   bench/profile.sh                      # SQLite; PostgreSQL too if it answers on 127.0.0.1:5432
#   TAMBAH_PROFILE_OUT=bench/profiles     # where the summaries go (one file per backend and load)
# Needs perf (apt-get install linux-perf), wrk, and perf_event_paranoid <= 0 (or root).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${TAMBAH_PROFILE_OUT:-bench/profiles}
SECONDS_PER_RUN=${TAMBAH_PROFILE_SECONDS:-8}
PG=${TAMBAH_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p tambah -p tambah-bench
BIN=target/release/tambah
TOOL=target/release/tambah-bench
WORK=$(mktemp -d)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$OUT"

# summary PERF_DATA: shares by thread name, by binary, then the hottest symbols.
summary() {
  local data=$1
  report() { perf report -i "$data" --no-children --sort "$1" --stdio 2>/dev/null > "$data.$1.txt" || true; grep -vE '^#|^$' "$data.$1.txt" | head -"$2" || true; }
  echo "## CPU samples by thread (comm)"
  report comm 12
  echo
  echo "## by binary or library (dso)"
  report dso 12
  echo
  echo "## hottest symbols (thread, binary, symbol)"
  report comm,dso,symbol 45
}

# record NAME TITLE URL MODE: perf while wrk sends bench/topup.lua's MODE requests to URL.
record() {
  local name=$1 title=$2 url=$3 mode=$4
  TAMBAH_MODE=$mode wrk -t2 -c64 -d$((SECONDS_PER_RUN + 3))s --latency -s bench/topup.lua "$url" > "$WORK/wrk.txt" &
  local wrk_pid=$!
  sleep 2
  perf record -a -F 499 -o "$WORK/perf.data" -- sleep "$SECONDS_PER_RUN" 2> /dev/null
  wait $wrk_pid
  {
    echo "# $title: $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt") requests/s (wrk -t2 -c64)"
    echo "# commit $(git rev-parse --short HEAD), $(nproc) cores, $(date -u +%F); perf record -a -F 499 for ${SECONDS_PER_RUN} s"
    echo
    summary "$WORK/perf.data"
  } > "$OUT/$name.txt"
  echo "wrote $OUT/$name.txt"
}

# The ceiling under the status checks' own script: axum answering a canned status answer.
# What wrk and the kernel take here they take from the node too.
ceiling() {
  $TOOL ceiling-http 127.0.0.1:18405 > "$WORK/ceiling" 2>&1 & PID=$!
  for _ in $(seq 200); do grep -q listening "$WORK/ceiling" 2>/dev/null && break; sleep 0.05; done
  TAMBAH_TOKEN=canned TAMBAH_RUN=canned record ceiling-status "axum answering a canned status answer, the status checks' wrk script" http://127.0.0.1:18405 status
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}

# profile DATABASE LABEL: one node on DATABASE; topups, then status checks.
profile() {
  local database=$1 label=$2
  export TAMBAH_DATABASE=$database TAMBAH_LOG=warn TAMBAH_MASTER_KEY; TAMBAH_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
  local user=prof$RANDOM
  $BIN merchant create --name Profile --username "$user" --password profile-password --json > "$WORK/m.json"
  local account; account=$(sed -E 's/.*"account":"([^"]+)".*/\1/' "$WORK/m.json")
  $BIN deposit --account "$account" --amount 90000000 > /dev/null
  $BIN merchant update --account "$account" --rate-limit 10000000 > /dev/null
  $BIN serve --listen 127.0.0.1:18404 > "$WORK/node" 2>&1 & PID=$!
  for _ in $(seq 200); do grep -q listening "$WORK/node" 2>/dev/null && break; sleep 0.05; done
  export TAMBAH_TOKEN; TAMBAH_TOKEN=$(curl -s -X POST http://127.0.0.1:18404/v2/token -d username="$user" -d password=profile-password | sed -E 's/.*"IdToken":"([^"]+)".*/\1/')
  export TAMBAH_RUN=p$RANDOM
  for i in $(seq 0 999); do
    curl -s -o /dev/null -H "Authorization: Bearer $TAMBAH_TOKEN" http://127.0.0.1:18404/v2/topup -d refid=$TAMBAH_RUN-seed-$i -d product=D -d account=0123456789 -d amount=10
  done
  for mode in new status; do
    local name; name=$(echo "$label-$mode" | tr 'A-Z ' 'a-z-')
    record "$name" "$label, $([[ $mode == new ]] && echo topups || echo status checks)" http://127.0.0.1:18404 "$mode"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}

ceiling
profile "$WORK/profile.db" "SQLite"
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  profile "${PG%/}/tambah_profile_$$" "PostgreSQL"
fi
