#!/usr/bin/env bash
# Crash safety at full load, for long runs: `loyalty bench` drives a real `loyalty serve` on a
# fresh SQLite database with a mix of accruals, purchases and redemptions (each write with an
# Idempotency-Key) while the server is SIGKILLed at random moments and started again on the
# same port. The bench sends every write the kill left unanswered again with its key until
# answered; then every write must have been answered, and the balances must add up to exactly
# the acknowledged writes (each counted once, none lost). With the server stopped, a rebuild of
# the read models from the events must find nothing to change.
#
#   scripts/kill-under-load.sh [SECONDS] [KILLS] [CLIENTS]    # default 60 s, 12 kills, 64 clients
#
# The CI's small version is `crates/server/tests/api/crash.rs` (and the bench's own test of a
# kill mid-run). Exits non-zero on any difference, keeping its work directory for a look.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
kills="${2:-12}"
clients="${3:-64}"
if ((seconds < 2 || kills < 1 || clients < 1)); then
    echo "usage: $0 [SECONDS >= 2] [KILLS >= 1] [CLIENTS >= 1]" >&2
    exit 2
fi
cargo build --release --quiet
bin=target/release/loyalty
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then bin="$CARGO_TARGET_DIR/release/loyalty"; fi

work=$(mktemp -d)
server=""
bench=""
finished=""
cleanup() {
    if [[ -n "$server" ]]; then kill -9 "$server" 2>/dev/null || true; fi
    if [[ -n "$bench" ]]; then kill -9 "$bench" 2>/dev/null || true; fi
    if [[ -n "$finished" ]]; then rm -rf "$work"; else echo "kept for a look: $work" >&2; fi
}
trap cleanup EXIT
db="sqlite://$work/killed.db"
random_below() { awk -v n="$1" -v seed="$(date +%N)" 'BEGIN { srand(seed); printf "%.0f", int(rand() * n) }'; }
# Below the range the system takes ports for outgoing connections from (its low end, at most
# 32,000), so that none of them takes this one while the server is down.
ephemeral_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port_top=$((ephemeral_low < 32000 ? ephemeral_low : 32000))
port=$((port_top - 8000 + $(random_below 8000)))
key=$("$bin" --database-url "$db" business create --name Killed 2>>"$work/server.log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')

start_server() {
    "$bin" --database-url "$db" serve --listen "127.0.0.1:$port" 2>>"$work/server.log" &
    server=$!
    for _ in $(seq 1 500); do
        kill -0 "$server" 2>/dev/null || break
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
        sleep 0.02
    done
    echo "the server did not start; the end of its log:" >&2
    tail -20 "$work/server.log" >&2
    exit 1
}

start_server
"$bin" bench --url "http://127.0.0.1:$port" --api-key "$key" --duration-secs "$seconds" \
    --concurrency "$clients" --accounts 1000 --probe-secs 0 --json \
    --mix accrual=70,purchase=10,redemption=20 >"$work/bench.json" 2>"$work/bench.err" &
bench=$!
until grep -qs '^sending' "$work/bench.err"; do
    kill -0 "$bench" 2>/dev/null || { cat "$work/bench.err" >&2; exit 1; }
    sleep 0.1
done
load_began=$(date +%s%N)
# Kill k lands at a random moment of the k-th of KILLS equal shares of the load's first
# SECONDS - 1 s (the last second is left alone: the load ends, then the ledger is read).
share_ns=$(((seconds - 1) * 1000000000 / kills))
last_kill_at=$((load_began + (seconds - 1) * 1000000000))
killed=0
for kill in $(seq 1 "$kills"); do
    at=$((load_began + (kill - 1) * share_ns + $(random_below "$share_ns")))
    now=$(date +%s%N)
    if ((at > now)); then sleep "$(awk -v ns="$((at - now))" 'BEGIN { printf "%.3f", ns / 1e9 }')"; fi
    # Restarts longer than a share push kills late: none after the load's last second.
    if (($(date +%s%N) > last_kill_at)) || ! kill -0 "$bench" 2>/dev/null; then
        echo "kills $kill to $kills skipped: the load's last second had begun"
        break
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "the server exited on its own; the end of its log:" >&2
        tail -20 "$work/server.log" >&2
        exit 1
    fi
    started=$(date +%s%N)
    kill -9 "$server"
    wait "$server" 2>/dev/null || true
    server=""
    start_server
    killed=$((killed + 1))
    echo "kill $kill of $kills: serving again after $((($(date +%s%N) - started) / 1000000)) ms"
done
status=0
wait "$bench" || status=$?
bench=""
if [[ $status -ne 0 ]]; then
    echo "the bench failed (exit $status):" >&2
    cat "$work/bench.err" "$work/bench.json" >&2
    exit 1
fi
python3 - "$work/bench.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
for op, c in report["operations"].items():
    print(f"{op}: {c['ok']} ok, {c['refused']} refused, {c['failed']} failed ({c['unknown']} of unknown outcome), {c['retried']} retried")
for why, count in report["failures"].items():
    print(f"failed: {count} x {why}")
print(f"{report['writesPerSec']:.0f} durable writes/s; latency ms p50 {report['latencyMsP50']:.2f} "
      f"p99 {report['latencyMsP99']:.2f} max {report['latencyMsMax']:.2f}")
print(f"ledger: {report['ledgerPoints']} points; the acknowledged writes add up to {report['expectedPoints']}")
if any(c["failed"] for c in report["operations"].values()):
    sys.exit("some writes failed (see above): every one should have been answered")
if report["ledgerPointsMin"] != report["ledgerPointsMax"]:
    sys.exit("some writes were never answered, so the ledger cannot be checked exactly")
if report["ledgerPoints"] != report["expectedPoints"]:
    sys.exit("MISMATCH: the ledger does not equal the acknowledged writes")
EOF
kill -TERM "$server"
wait "$server" 2>/dev/null || true
server=""
if ! rebuilt=$("$bin" --database-url "$db" projections rebuild 2>>"$work/server.log"); then
    echo "the rebuild failed; the end of the log:" >&2
    tail -20 "$work/server.log" >&2
    exit 1
fi
echo "$rebuilt"
if [[ "$rebuilt" != *"read models unchanged"* || "$rebuilt" != *"snapshots unchanged"* ]]; then
    echo "the rebuild from the events changed the read models or snapshots" >&2
    exit 1
fi
echo "every acknowledged write counted once across $killed kills; the read models equal a rebuild"
finished=yes
