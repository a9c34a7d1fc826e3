# Shared by the scripts that drive a live node from outside (tests/sdk,
# tests/schemathesis, tests/postman); sourced after `cd` to the repository root.

# python_venv DIR PACKAGE==VERSION CHECK: a venv at DIR holding PACKAGE,
# installed once (CHECK is a command that succeeds when it is there).
python_venv() {
  local dir=$1 package=$2 check=$3
  if ! eval "$check" >/dev/null 2>&1; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "$package"
  fi
}

# start_node BIN USERNAME PASSWORD DEPOSIT_RM [serve flags...]: a fresh
# SQLite file with one staging merchant holding DEPOSIT_RM, and a node on a
# random port; sets NODE_DIR, ACCOUNT and PORT, and stops the node and
# removes NODE_DIR on exit.
start_node() {
  local bin=$1 username=$2 password=$3 deposit=$4
  shift 4
  NODE_DIR=$(mktemp -d)
  NODE_PID=
  trap '[[ -n $NODE_PID ]] && kill "$NODE_PID" 2>/dev/null; rm -rf "$NODE_DIR"' EXIT
  export TAMBAH_DATABASE=$NODE_DIR/node.db TAMBAH_LOG=warn
  "$bin" merchant create --name "Test Merchant" --username "$username" --password "$password" --json > "$NODE_DIR/m.json"
  ACCOUNT=$(sed -E 's/.*"account":"([^"]+)".*/\1/' "$NODE_DIR/m.json")
  "$bin" deposit --account "$ACCOUNT" --amount "$deposit" > /dev/null
  PORT=$((20000 + RANDOM % 20000))
  "$bin" serve --listen "127.0.0.1:$PORT" "$@" > "$NODE_DIR/out" 2>&1 &
  NODE_PID=$!
  for _ in $(seq 100); do grep -q "listening" "$NODE_DIR/out" 2>/dev/null && break; sleep 0.1; done
  grep -q "listening" "$NODE_DIR/out" || { cat "$NODE_DIR/out"; exit 1; }
}
