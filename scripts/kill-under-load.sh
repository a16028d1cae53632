#!/usr/bin/env bash
# Crash safety at full load, for long runs: `loyalty bench` drives a real `loyalty serve` on a
# fresh SQLite database with a mix of accruals, purchases and redemptions (each write with an
# Idempotency-Key) while the server is SIGKILLed at random moments and started again on the
# same port. The bench sends every write the kill left unanswered again with its key until
# answered, then checks that the balances add up to exactly the acknowledged writes (each
# counted once, none lost). With the server stopped, a rebuild of the read models from the
# events must find nothing to change.
#
#   scripts/kill-under-load.sh [SECONDS] [KILLS] [CLIENTS]    # default 60 s, 12 kills, 64 clients
#
# The CI's small version is `crates/server/tests/api/crash.rs` (and the bench's own test of a
# kill mid-run). Exits non-zero if the bench's ledger check or the rebuild finds a difference.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
kills="${2:-12}"
clients="${3:-64}"
cargo build --release --quiet
bin=target/release/loyalty
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then bin="$CARGO_TARGET_DIR/release/loyalty"; fi

work=$(mktemp -d)
trap 'kill -9 "${server:-0}" "${bench:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite://$work/killed.db"
port=$((20000 + RANDOM % 20000))
key=$("$bin" --database-url "$db" business create --name Killed 2>>"$work/server.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')

start_server() {
    "$bin" --database-url "$db" serve --listen "127.0.0.1:$port" 2>>"$work/server.log" &
    server=$!
    for _ in $(seq 1 500); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
        sleep 0.02
    done
    echo "the server did not start; its log: $work/server.log" >&2
    tail -20 "$work/server.log" >&2
    exit 1
}

start_server
"$bin" bench --url "http://127.0.0.1:$port" --api-key "$key" --duration-secs "$seconds" \
    --concurrency "$clients" --accounts 1000 --probe-secs 0 \
    --mix accrual=70,purchase=10,redemption=20 >"$work/bench.out" 2>"$work/bench.err" &
bench=$!
until grep -q '^sending' "$work/bench.err"; do
    kill -0 "$bench" 2>/dev/null || { cat "$work/bench.err" >&2; exit 1; }
    sleep 0.1
done
# One kill in each of KILLS + 1 equal shares of the run, at a random moment within it.
share_ms=$((seconds * 1000 / (kills + 1)))
for kill in $(seq 1 "$kills"); do
    sleep "$(awk -v ms="$((share_ms / 2 + RANDOM % share_ms))" 'BEGIN { printf "%.3f", ms / 1000 }')"
    started=$(date +%s%N)
    kill -9 "$server"
    wait "$server" 2>/dev/null || true
    start_server
    echo "kill $kill of $kills: serving again after $((($(date +%s%N) - started) / 1000000)) ms"
done
status=0
wait "$bench" || status=$?
cat "$work/bench.out"
if [[ $status -ne 0 ]]; then
    echo "the bench failed (exit $status):" >&2
    cat "$work/bench.err" >&2
    exit 1
fi
kill -TERM "$server"
wait "$server" 2>/dev/null || true
rebuilt=$("$bin" --database-url "$db" projections rebuild 2>>"$work/server.log" | tail -1)
echo "$rebuilt"
if [[ "$rebuilt" != *"read models unchanged"* || "$rebuilt" != *"snapshots unchanged"* ]]; then
    echo "the rebuild from the events changed the read models or snapshots" >&2
    exit 1
fi
echo "every acknowledged write counted once across $kills kills; the read models equal a rebuild"
