#!/usr/bin/env bash
# The benchmark harness: one command reproduces every number of BENCHMARKS.md.
#   bench/run.sh                 # ceilings, SQLite, and PostgreSQL if it answers on 127.0.0.1:5432
#   TAMBAH_BENCH_LARGE=1 bench/run.sh   # also: the same topups with 10,000,000 orders stored
#   TAMBAH_BENCH_ONLY=ceilings|sqlite|postgres|large   # one part only
#   TAMBAH_BENCH_SECONDS=10 (per run), TAMBAH_BENCH_CONNECTIONS=64,
#   SKIP_UNCHAINED=1 (no topups run on a build without the statement chain, which measures its cost),
#   SKIP_OVERLOAD=1 (no overload section: open loop at 50/80/150% of the capacity measured with its own client,
#   log-in flood, 5,000 idle connections; TAMBAH_BENCH_OVERLOAD_CONNECTIONS=2048 the open loop's connections there),
#   TAMBAH_BENCH_RATE=10000 (open loop on SQLite), TAMBAH_BENCH_PG_RATE=2500 (open loop on PostgreSQL,
#   below its closed-loop capacity here: past capacity the node sheds load with 503s)
# Needs wrk (apt-get install wrk) and python3. Everything runs on this machine:
# the load generator shares its cores with the server, as documented.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${TAMBAH_BENCH_SECONDS:-10}
CONNECTIONS=${TAMBAH_BENCH_CONNECTIONS:-64}
SQLITE_RATE=${TAMBAH_BENCH_RATE:-10000}
PG_RATE=${TAMBAH_BENCH_PG_RATE:-2500}
PG=${TAMBAH_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
OVERLOAD_CONNECTIONS=${TAMBAH_BENCH_OVERLOAD_CONNECTIONS:-2048}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
# 5,000 idle connections and the open loop's own need file descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --release -q -p tambah -p tambah-bench
BIN=target/release/tambah
# The same code without the statement chain (feature bench-unchained: no entry
# numbers, hashes or heads), in a target directory of its own so that the
# normal build stays as it is. Its databases fail `verify` by design.
if [[ -z "${SKIP_UNCHAINED:-}" ]]; then
  cargo build --release -q -p tambah --features bench-unchained --target-dir target/unchained
fi
BIN_UNCHAINED=target/unchained/release/tambah
TOOL=target/release/tambah-bench
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
RESULTS=$WORK/results.md
echo "| run | requests/s | p50 | p99 | max | notes |" > "$RESULTS"
echo "|---|---|---|---|---|---|" >> "$RESULTS"

wait_listening() { for _ in $(seq 200); do grep -q "listening" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "did not start: $(cat "$1")"; exit 1; }
# wrk_row LABEL NOTES -- wrk args...: runs wrk and appends a table row.
wrk_row() {
  local label=$1 notes=$2; shift 3
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$@" > "$WORK/wrk.txt"
  local rps p50 p99 max bad
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt"); p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")
  max=$(awk '$1=="Latency" {print $4}' "$WORK/wrk.txt")
  bad=$(grep -c unexpected "$WORK/wrk.txt" || true)
  # wrk counts answers other than 2xx itself; the script names the first few of any kind.
  local non2xx; non2xx=$(awk '/Non-2xx or 3xx responses/ {print $NF}' "$WORK/wrk.txt")
  [[ $bad -gt 0 ]] && notes="$notes; UNEXPECTED ANSWERS (${non2xx:-0} not 2xx): $(grep unexpected "$WORK/wrk.txt" | head -1)"
  echo "| $label | $rps | $p50 | $p99 | $max | $notes |" | tee -a "$RESULTS"
}

ONLY=${TAMBAH_BENCH_ONLY:-}   # ceilings | sqlite | postgres: one part only
if [[ -z $ONLY || $ONLY == ceilings ]]; then
echo "== ceilings"
$TOOL ceiling-http 127.0.0.1:18401 > "$WORK/c1" 2>&1 & PIDS+=($!); wait_listening "$WORK/c1"
wrk_row "ceiling: axum, trivial route" "GET /" -- http://127.0.0.1:18401/
TAMBAH_TOKEN=canned TAMBAH_RUN=canned TAMBAH_MODE=status wrk_row "ceiling: axum, canned status answer, the status checks' wrk script" "POST, Lua-built requests, answers read in Lua" -- -s bench/topup.lua http://127.0.0.1:18401
$TOOL ceiling-writer 127.0.0.1:18402 "$WORK/ceiling.db" > "$WORK/c2" 2>&1 & PIDS+=($!); wait_listening "$WORK/c2"
wrk_row "ceiling: axum + bare SQLite group-commit writer" "2 INSERTs per request, WAL, synchronous=FULL" -- -s bench/post.lua http://127.0.0.1:18402/
kill "${PIDS[@]}" 2>/dev/null || true; PIDS=()
fi

# start_node BINARY DATABASE: a merchant with a deep wallet on DATABASE and one
# node of BINARY serving it on 127.0.0.1:18403; sets pid, account, TAMBAH_TOKEN.
start_node() {
  local binary=$1 database=$2
  export TAMBAH_DATABASE=$database TAMBAH_LOG=warn TAMBAH_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
  local user=bench$RANDOM
  $binary merchant create --name Bench --username "$user" --password bench-password --json > "$WORK/m.json"
  account=$(sed -E 's/.*"account":"([^"]+)".*/\1/' "$WORK/m.json")
  $binary deposit --account "$account" --amount 90000000 > /dev/null
  # The benchmark merchant gets its own rate limit, far above what one node serves.
  $binary merchant update --account "$account" --rate-limit 10000000 > /dev/null
  if [[ -n "${PRELOAD:-}" ]]; then $PRELOAD "$database" "$account"; fi
  $binary serve --listen 127.0.0.1:18403 > "$WORK/node" 2>&1 & pid=$!; PIDS+=($pid); wait_listening "$WORK/node"
  export TAMBAH_TOKEN; TAMBAH_TOKEN=$(curl -s -X POST http://127.0.0.1:18403/v2/token -d username="$user" -d password=bench-password | sed -E 's/.*"IdToken":"([^"]+)".*/\1/')
  export TAMBAH_RUN=r$RANDOM
}

# unchained DATABASE LABEL: the closed-loop topups on the build without the
# statement chain, on a database of its own (not verified: it has no chain).
unchained() {
  local pid account
  start_node "$BIN_UNCHAINED" "$1"
  TAMBAH_MODE=new wrk_row "$2: topups, closed loop, without the statement chain" "bench-unchained build: no entry hashes or heads" -- -s bench/topup.lua http://127.0.0.1:18403
  kill "$pid"; PIDS=()
}

# node DATABASE LABEL RATE: one tambah node on DATABASE, every workload.
node() {
  local database=$1 label=$2 RATE=$3 pid account
  start_node "$BIN" "$database"
  for i in $(seq 0 999); do
    curl -s -o /dev/null -H "Authorization: Bearer $TAMBAH_TOKEN" http://127.0.0.1:18403/v2/topup -d refid=$TAMBAH_RUN-seed-$i -d product=D -d account=0123456789 -d amount=10
  done
  TAMBAH_MODE=new wrk_row "$label: topups, closed loop" "new refids, final 20, durable" -- -s bench/topup.lua http://127.0.0.1:18403
  TAMBAH_MODE=status wrk_row "$label: status checks" "resubmitted refids" -- -s bench/topup.lua http://127.0.0.1:18403
  TAMBAH_MODE=mixed wrk_row "$label: mixed" "5 topups : 4 status checks : 1 balance" -- -s bench/topup.lua http://127.0.0.1:18403
  $TOOL open-loop http://127.0.0.1:18403 "$TAMBAH_TOKEN" "$RATE" "$SECONDS_PER_RUN" "$TAMBAH_RUN-open" | tee "$WORK/open.txt"
  local o50 o99 omax answered
  o50=$(awk '/^latency/ {print $8}' "$WORK/open.txt"); o99=$(awk '/^latency/ {print $12}' "$WORK/open.txt"); omax=$(awk '/^latency/ {print $16}' "$WORK/open.txt")
  answered=$(answered_rate "$WORK/open.txt")
  local notfinal; notfinal=$(awk '/^open loop/ {print $(NF-2)}' "$WORK/open.txt")
  echo "| $label: topups, open loop at $RATE/s | $answered | ${o50}ms | ${o99}ms | ${omax}ms | latency from the due time (no coordinated omission); $notfinal answers not 20 |" | tee -a "$RESULTS"
  local rss; rss=$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$pid/status)
  echo "| $label: peak RSS of the node | | | | | $rss |" | tee -a "$RESULTS"
  if [[ -z "${SKIP_OVERLOAD:-}" ]]; then overload "$label" "$pid"; fi
  kill $pid; PIDS=()
  $BIN verify | tail -1
  if [[ $database == postgres* ]]; then pgbench_ceiling "$database" "$account"; fi
}

# pgbench_ceiling DATABASE ACCOUNT: one transaction per topup (no group
# commit) with pgbench, 16 clients, on the benchmark's database: what
# PostgreSQL alone does, measured in the same run as tambah's topups.
pgbench_ceiling() {
  local database=$1 account=$2
  local ids; ids=$(psql -At "$database" -c "SELECT m.id, w.id, h.id, r.id FROM merchants m
      JOIN ledger_accounts w ON w.merchant_id = m.id
      JOIN ledger_accounts h ON h.kind = 'holds' AND h.environment = m.environment
      JOIN ledger_accounts r ON r.kind = 'revenue' AND r.environment = m.environment
      WHERE m.account = '$account'")
  IFS='|' read -r merchant wallet holds revenue <<< "$ids"
  psql -q "$database" -c "CREATE SEQUENCE IF NOT EXISTS pgbench_refids" > /dev/null
  pgbench -n -c 16 -j 2 -T "$SECONDS_PER_RUN" -f bench/pgbench_topup.sql \
    -D merchant="$merchant" -D wallet="$wallet" -D holds="$holds" -D revenue="$revenue" "$database" > "$WORK/pgbench.txt" 2>&1
  local tps lat; tps=$(awk '/^tps/ {printf "%.0f", $3}' "$WORK/pgbench.txt"); lat=$(awk '/^latency average/ {print $4}' "$WORK/pgbench.txt")
  echo "| ceiling: pgbench, one transaction per topup, 16 clients | $tps | | | | average latency ${lat}ms; no group commit |" | tee -a "$RESULTS"
}

# ratio NUMERATOR_LABEL DENOMINATOR_LABEL: a ratio line from two result rows.
ratio() {
  local a b
  a=$(awk -F'|' -v l=" $1 " '$2 == l {gsub(/ /, "", $3); print $3}' "$RESULTS")
  b=$(awk -F'|' -v l=" $2 " '$2 == l {gsub(/ /, "", $3); print $3}' "$RESULTS")
  if [[ -n $a && -n $b ]]; then awk -v a="$a" -v b="$b" -v l="$1 / $2" 'BEGIN {printf "%s: %.2f\n", l, a / b}'; fi
}

OPEN_RUNS=0
# answered_rate FILE: the answered rate of an open-loop report ("(1234/s)").
answered_rate() { grep -m1 -oE '\([0-9]+/s\)' "$1" | tr -d '()/s'; }

# open_row LABEL RATE PID: an open loop of topups at RATE/s; one row for the
# served (20) answers, one for the shed (503) ones, with the node's peak RSS
# during that row.
open_row() {
  local label=$1 rate=$2 pid=$3
  # A short prefix: refids are at most 25 characters, and i runs to 7 digits.
  OPEN_RUNS=$((OPEN_RUNS + 1))
  # Each row's peak RSS is its own: the kernel's high-water mark is reset first.
  echo 5 > /proc/"$pid"/clear_refs 2>/dev/null || true
  $TOOL open-loop http://127.0.0.1:18403 "$TAMBAH_TOKEN" "$rate" "$SECONDS_PER_RUN" "${TAMBAH_RUN}o$OPEN_RUNS" "$OVERLOAD_CONNECTIONS" > "$WORK/o.txt"
  local served shed other rss
  served=$(awk '/^served:/ {printf "%d answers 20: p50 %sms p99 %sms p99.9 %sms max %sms", $2, $4, $6, $10, $8}' "$WORK/o.txt")
  shed=$(awk '/^shed:/ {printf "%d shed (503): p99 %sms max %sms", $2, $6, $8}' "$WORK/o.txt")
  other=$(awk '/^other:/ {print $2}' "$WORK/o.txt")
  rss=$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/"$pid"/status)
  awk -v label="$label" '/^other answers/ {print "  " label ": " $0}' "$WORK/o.txt" >> "$WORK/notes.txt"
  echo "| $label | $(answered_rate "$WORK/o.txt") | $(awk '/^served:/ {print $4}' "$WORK/o.txt")ms | $(awk '/^served:/ {print $6}' "$WORK/o.txt")ms | $(awk '/^served:/ {print $8}' "$WORK/o.txt")ms | offered $rate/s: $served; $shed; $other other; peak RSS $rss |" | tee -a "$RESULTS"
}

# overload LABEL PID: the capacity with the open loop's own client (a closed
# loop on 256 connections; the client costs about what wrk does, and shares
# the cores), then the open loop at 50%, 80% and 150% of it on up to
# OVERLOAD_CONNECTIONS connections — many clients, so that the excess reaches
# the server (a pool of 256 would queue it in the client, where no server can
# shed it) — then at 50% beside a log-in flood and beside 5,000 idle
# connections. p50/p99/max are those of the served answers.
overload() {
  local label=$1 pid=$2
  $TOOL closed-loop http://127.0.0.1:18403 "$TAMBAH_TOKEN" 256 "$SECONDS_PER_RUN" "$TAMBAH_RUN-cap" > "$WORK/cap.txt"
  local capacity; capacity=$(grep -m1 -oE 'served [0-9]+/s' "$WORK/cap.txt" | grep -oE '[0-9]+')
  echo "| $label: topups, closed loop, open-loop client, 256 connections | $capacity | $(awk '/^served:/ {print $4 "ms | " $6 "ms | " $8 "ms"}' "$WORK/cap.txt") | the capacity the overload rows take their percentages of |" | tee -a "$RESULTS"
  for pct in 50 80 150; do
    open_row "$label: overload, open loop at $pct% of $capacity/s" $((capacity * pct / 100)) "$pid"
  done
  $TOOL login-flood http://127.0.0.1:18403 64 "$SECONDS_PER_RUN" > "$WORK/flood.txt" &
  local flood=$!
  open_row "$label: open loop at 50% during a log-in flood (64 clients)" $((capacity / 2)) "$pid"
  wait $flood; echo "  $(cat "$WORK/flood.txt")" | tee -a "$WORK/notes.txt"
  $TOOL idle 127.0.0.1:18403 5000 $((SECONDS_PER_RUN + 2)) > "$WORK/idle.txt" &
  local idle=$!
  # The open loop starts once all 5,000 are connected (that takes 0.5 s to several
  # seconds), so that it runs beside them, not beside their arrival.
  for _ in $(seq 600); do grep -q "connections open" "$WORK/idle.txt" 2>/dev/null && break; sleep 0.05; done
  sleep 1
  open_row "$label: open loop at 50% beside 5,000 idle connections" $((capacity / 2)) "$pid"
  wait $idle; echo "  $(tr '\n' ' ' < "$WORK/idle.txt")" | tee -a "$WORK/notes.txt"
}

if [[ -z $ONLY || $ONLY == sqlite ]]; then
  echo "== SQLite"
  node "$WORK/bench.db" "SQLite" "$SQLITE_RATE"
  if [[ -z "${SKIP_UNCHAINED:-}" ]]; then unchained "$WORK/unchained.db" "SQLite"; fi
fi
if [[ -n $ONLY && $ONLY != postgres ]]; then
  :
elif pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "== PostgreSQL"
  node "${PG%/}/tambah_bench_$$" "PostgreSQL" "$PG_RATE"
  if [[ -z "${SKIP_UNCHAINED:-}" ]]; then unchained "${PG%/}/tambah_bench_unchained_$$" "PostgreSQL"; fi
else
  echo "== PostgreSQL: not answering on 127.0.0.1:5432, skipped"
fi
if [[ $ONLY == large || ( -z $ONLY && -n "${TAMBAH_BENCH_LARGE:-}" ) ]]; then
  echo "== SQLite with 10,000,000 orders stored"
  PRELOAD="python3 bench/preload.py 10000000" node "$WORK/large.db" "SQLite, 10M orders stored" "$SQLITE_RATE"
fi
echo
echo "== results (commit $(git rev-parse --short HEAD), $(nproc) cores, $(date -u +%F))"
cat "$RESULTS"
echo
echo "== ratios (issue goals: SQLite topups >= 0.60 of the writer ceiling, status checks >= 0.50 of the"
echo "   trivial route; PostgreSQL topups >= 3.0 of pgbench, status checks >= 0.30 of the trivial route)"
ratio "SQLite: topups, closed loop" "ceiling: axum + bare SQLite group-commit writer"
ratio "SQLite: status checks" "ceiling: axum, trivial route"
ratio "PostgreSQL: topups, closed loop" "ceiling: pgbench, one transaction per topup, 16 clients"
ratio "PostgreSQL: status checks" "ceiling: axum, trivial route"
echo "   beside the goals: status checks against axum answering the same wrk script with a canned answer"
ratio "SQLite: status checks" "ceiling: axum, canned status answer, the status checks' wrk script"
ratio "PostgreSQL: status checks" "ceiling: axum, canned status answer, the status checks' wrk script"
echo "   the statement chain's cost: topups with it against the same code built without it"
ratio "SQLite: topups, closed loop" "SQLite: topups, closed loop, without the statement chain"
ratio "PostgreSQL: topups, closed loop" "PostgreSQL: topups, closed loop, without the statement chain"
if [[ -f "$WORK/notes.txt" ]]; then echo; cat "$WORK/notes.txt"; fi
