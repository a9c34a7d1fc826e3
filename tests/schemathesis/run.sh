#!/usr/bin/env bash
# Schemathesis (PyPI, pinned) against a live tambah's /openapi.json on a fresh
# SQLite file: every described operation, every check (see schemathesis.toml).
#   tests/schemathesis/run.sh [path to the tambah binary, default target/debug/tambah]
# Installs Schemathesis into target/st-venv once.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/debug/tambah}
[[ -x $BIN ]] || cargo build -q -p tambah
VENV=target/st-venv
if [[ ! -x $VENV/bin/st ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check schemathesis==4.32.5
fi
DIR=$(mktemp -d)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
export TAMBAH_DATABASE=$DIR/st.db TAMBAH_LOG=warn
"$BIN" merchant create --name "Schemathesis" --username st-test --password st-test-password --json > "$DIR/m.json"
ACCOUNT=$(sed -E 's/.*"account":"([^"]+)".*/\1/' "$DIR/m.json")
"$BIN" deposit --account "$ACCOUNT" --amount 100000 > /dev/null
# Its own rate limit, so that what is measured is the contract, not the limiter.
"$BIN" merchant update --account "$ACCOUNT" --rate-limit 1000000 > /dev/null
PORT=$((20000 + RANDOM % 20000))
# Its negative cases send bad credentials on purpose: a higher allowance of
# failed authentications for this one address keeps the others testable.
"$BIN" serve --listen "127.0.0.1:$PORT" --rate-unauthenticated-per-s 100000 > "$DIR/out" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q "listening" "$DIR/out" 2>/dev/null && break; sleep 0.1; done
grep -q "listening" "$DIR/out" || { cat "$DIR/out"; exit 1; }
TAMBAH_TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/v2/token" -d username=st-test -d password=st-test-password \
  | sed -E 's/.*"IdToken":"([^"]+)".*/\1/')
export TAMBAH_TOKEN
"$VENV/bin/st" --config-file tests/schemathesis/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" --seed 1
