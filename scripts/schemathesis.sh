#!/usr/bin/env bash
# HTTP fuzzing of the running service against its own OpenAPI document, with schemathesis
# (PyPI): every operation is called with generated inputs, and every answer must be no server
# error (5xx) and must match the document (status codes, content types, bodies).
#
#   pip install schemathesis
#   scripts/schemathesis.sh [MAX_EXAMPLES]        # default 50 examples per operation
#
# It builds and starts `loyalty serve` on a fresh SQLite database, creates a business, and runs
# schemathesis with its API key. Not part of CI (it takes minutes); exits non-zero on a finding.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

examples="${1:-50}"
command -v schemathesis >/dev/null || { echo "schemathesis is not installed: pip install schemathesis" >&2; exit 2; }
cargo build --release --quiet
bin=target/release/loyalty
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then bin="$CARGO_TARGET_DIR/release/loyalty"; fi

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite://$work/fuzz.db"
port=$((20000 + RANDOM % 20000))
LOYALTY_ADMIN_TOKEN=fuzz-admin "$bin" --database-url "$db" serve --listen "127.0.0.1:$port" 2>"$work/server.log" &
server=$!
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.1
done
key=$("$bin" --database-url "$db" business create --name Fuzz | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')

schemathesis run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --workers 2
