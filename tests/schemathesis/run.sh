#!/usr/bin/env bash
# Schemathesis (PyPI, pinned) against a live tambah's /openapi.json on a fresh
# SQLite file: every described operation, every check (see schemathesis.toml).
#   tests/schemathesis/run.sh [path to the tambah binary, default target/debug/tambah]
# Installs Schemathesis into target/st-venv once.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/node.sh
BIN=${1:-target/debug/tambah}
[[ -x $BIN ]] || cargo build -q -p tambah
VENV=target/st-venv
python_venv "$VENV" schemathesis==4.32.5 "test -x $VENV/bin/st"
# Its negative cases send bad credentials on purpose: a higher allowance of
# failed authentications for this one address keeps the others testable.
start_node "$BIN" st-test st-test-password 100000 --rate-unauthenticated-per-s 100000
# Its own rate limit, so that what is measured is the contract, not the limiter.
"$BIN" merchant update --account "$ACCOUNT" --rate-limit 1000000 > /dev/null
TAMBAH_TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/v2/token" -d username=st-test -d password=st-test-password \
  | sed -E 's/.*"IdToken":"([^"]+)".*/\1/')
export TAMBAH_TOKEN
"$VENV/bin/st" --config-file tests/schemathesis/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" --seed 1
