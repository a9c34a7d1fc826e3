#!/usr/bin/env bash
# Runs the Postman collection (docs/postman/, generated from docs/openapi.json by
# tests/postman/generate.py) with newman against a live tambah on a fresh SQLite
# file, twice: with a token (username and password), then with an API key and
# HMAC signatures. Fails if the checked-in collection is stale or any test fails.
#   tests/postman/run.sh [path to the tambah binary, default target/debug/tambah]
# Needs python3 and Node.js with npm (installed with apt when missing); installs newman (exactly as pinned by
# tests/postman/package-lock.json) into target/newman once.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/node.sh
python3 tests/postman/generate.py --check
BIN=${1:-target/debug/tambah}
[[ -x $BIN ]] || cargo build -q -p tambah

NEWMAN=target/newman/node_modules/.bin/newman
if ! [[ -x $NEWMAN ]] || ! cmp -s tests/postman/package-lock.json target/newman/package-lock.json; then
  # Debian's packages where they are missing (CI runs as root).
  command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm > /dev/null; }
  mkdir -p target/newman
  cp tests/postman/package.json tests/postman/package-lock.json target/newman/
  npm ci --prefix target/newman --no-audit --no-fund --loglevel=error
fi

USERNAME=postman-test PASSWORD=postman-test-password
# Both runs send every operation of the description within seconds, and log in
# five times as one user: above a staging merchant's default rate and at the
# default log-in limit, which are not what this tests.
start_node "$BIN" "$USERNAME" "$PASSWORD" 5000 --rate-staging-per-s 1000 --logins-per-minute 600,600,600
"$BIN" key create --account "$ACCOUNT" --json > "$NODE_DIR/key.json"
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$NODE_DIR/key.json" "$1"; }
API_KEY=$(field api_key)
API_SECRET=$(field api_secret)

newman() {
  "$NEWMAN" run docs/postman/tambah.postman_collection.json \
    -e docs/postman/staging.postman_environment.json \
    --env-var "baseUrl=http://127.0.0.1:$PORT" \
    --env-var "username=$USERNAME" --env-var "password=$PASSWORD" \
    --timeout-request 10000 --color off --reporter-cli-no-success-assertions "$@"
}
failed=0
echo "-- newman with a token (Authorization: Bearer)"
newman --env-var expectAuth=bearer || failed=1
echo "-- newman with an API key and HMAC v1 signatures"
newman --env-var expectAuth=hmac --env-var "api_key=$API_KEY" --env-var "api_secret=$API_SECRET" || failed=1
exit $failed
