#!/usr/bin/env bash
# Runs IIMMPACT's official Python SDK (PyPI iimmpact==1.0.0, unchanged)
# against a live tambah on a fresh SQLite file: tests/sdk/test_v1_sdk.py.
#   tests/sdk/run.sh [path to the tambah binary, default target/debug/tambah]
# Needs python3 with venv; installs the SDK into target/sdk-venv once.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/debug/tambah}
[[ -x $BIN ]] || cargo build -q -p tambah
VENV=target/sdk-venv
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c "import iimmpact" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check iimmpact==1.0.0
fi
DIR=$(mktemp -d)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
export TAMBAH_DATABASE=$DIR/sdk.db TAMBAH_LOG=warn
"$BIN" merchant create --name "SDK Test" --username sdk-test --password sdk-test-password --json > "$DIR/m.json"
ACCOUNT=$(sed -E 's/.*"account":"([^"]+)".*/\1/' "$DIR/m.json")
"$BIN" deposit --account "$ACCOUNT" --amount 5000 > /dev/null
PORT=$((20000 + RANDOM % 20000))
"$BIN" serve --listen "127.0.0.1:$PORT" > "$DIR/out" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q "listening" "$DIR/out" 2>/dev/null && break; sleep 0.1; done
grep -q "listening" "$DIR/out" || { cat "$DIR/out"; exit 1; }
TAMBAH_URL=http://127.0.0.1:$PORT TAMBAH_USERNAME=sdk-test TAMBAH_PASSWORD=sdk-test-password \
  "$VENV/bin/python" tests/sdk/test_v1_sdk.py
