#!/usr/bin/env bash
# The live description checked from outside, on a fresh SQLite file: it
# validates as OpenAPI 3.1, its /reference page renders in a real browser, and
# Schemathesis (PyPI, pinned) runs every described operation with every check
# (see schemathesis.toml), twice: with a Bearer token, then with the API key
# and an HMAC v1 signature on every request (hooks.py).
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
field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/" "$2"; }
TAMBAH_TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/v2/token" -d username=st-test -d password=st-test-password \
  | sed -E 's/.*"IdToken":"([^"]+)".*/\1/')
export TAMBAH_TOKEN TAMBAH_API_KEY TAMBAH_API_SECRET
TAMBAH_API_KEY=$(field api_key "$NODE_DIR/m.json")
TAMBAH_API_SECRET=$(field api_secret "$NODE_DIR/m.json")
SPEC=http://127.0.0.1:$PORT/openapi.json
# The served description validates as OpenAPI 3.1 (openapi-spec-validator,
# pinned, its own venv: its jsonschema pins differ from Schemathesis's).
OASV=target/oasv-venv
python_venv "$OASV" openapi-spec-validator==0.9.0 "test -x $OASV/bin/openapi-spec-validator"
curl -sf "$SPEC" -o "$NODE_DIR/openapi.json"
"$OASV/bin/openapi-spec-validator" "$NODE_DIR/openapi.json"
# Its reference page renders in a real browser (Debian's chromium, headless):
# one section per operation, each with its anchor.
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium > /dev/null; }
chromium --headless --no-sandbox --disable-gpu --dump-dom "http://127.0.0.1:$PORT/reference" \
  > "$NODE_DIR/reference.html" 2> "$NODE_DIR/chromium.log" || { cat "$NODE_DIR/chromium.log"; exit 1; }
operations=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(v) for v in d["paths"].values()))' "$NODE_DIR/openapi.json")
rendered=$(grep -o 'id="op-[a-z0-9-]*"' "$NODE_DIR/reference.html" | sort -u | wc -l)
echo "reference page: $rendered of $operations operations rendered"
[[ $rendered -eq $operations ]] || { echo "the reference page lacks operations"; exit 1; }
grep -q 'id="op-post-v2-topup"' "$NODE_DIR/reference.html" || { echo "no topup section"; exit 1; }
# Schemathesis keeps a cache in its working directory: run it in the node's.
for scheme in bearer api_key; do
  echo "== Schemathesis, authenticated by $scheme"
  config=$NODE_DIR/$scheme.toml
  cp tests/schemathesis/schemathesis.toml "$config"
  case $scheme in
    bearer) printf '\n[auth.openapi.bearer]\nbearer = "${TAMBAH_TOKEN}"\n' >> "$config" ;;
    api_key) printf '\n[auth.openapi.api_key]\napi_key = "${TAMBAH_API_KEY}"\n' >> "$config" ;;
  esac
  (cd "$NODE_DIR" && PYTHONPATH=$OLDPWD/tests/schemathesis SCHEMATHESIS_HOOKS=hooks \
    "$OLDPWD/$VENV/bin/st" --config-file "$config" run "$SPEC" --seed 1)
done
