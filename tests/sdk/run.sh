#!/usr/bin/env bash
# Runs IIMMPACT's official Python SDK (PyPI iimmpact==1.0.0, unchanged)
# against a live tambah on a fresh SQLite file: tests/sdk/test_v1_sdk.py.
#   tests/sdk/run.sh [path to the tambah binary, default target/debug/tambah]
# Needs python3 with venv; installs the SDK into target/sdk-venv once.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/node.sh
BIN=${1:-target/debug/tambah}
[[ -x $BIN ]] || cargo build -q -p tambah
VENV=target/sdk-venv
python_venv "$VENV" iimmpact==1.0.0 "$VENV/bin/python -c 'import iimmpact'"
start_node "$BIN" sdk-test sdk-test-password 5000
TAMBAH_URL=http://127.0.0.1:$PORT TAMBAH_USERNAME=sdk-test TAMBAH_PASSWORD=sdk-test-password \
  "$VENV/bin/python" tests/sdk/test_v1_sdk.py
