#!/usr/bin/env bash
# Event ingestion benchmark: the release server pinned to core 0 with the demo catalog, wrk
# pinned to core 1 posting (a) batches of 1,000 events at 4 connections and (b) single events
# at 32 connections. Reports events/s and latency, and the server's RSS.
# Usage: benches/events.sh [seconds per run, default 15]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
PORT=${PORT:-7791}
BASE=http://127.0.0.1:$PORT
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
cargo build --release --quiet --bin attune
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
zcat fixtures/demo_catalog.ndjson.gz | python3 -c 'import sys, json; [print(json.loads(l)["id"]) for l in sys.stdin]' > "$WORK/products.txt"

RUST_LOG=warn taskset -c 0 target/release/attune demo --listen 127.0.0.1:$PORT --data-dir "$WORK/data" >/dev/null &
SERVER=$!
for _ in $(seq 200); do curl -sf $BASE/health >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status; }
echo "RSS before: $(rss)"

run() {
  BATCH=$1 PRODUCTS_FILE="$WORK/products.txt" taskset -c 1 wrk -t1 -c$2 -d${SECS}s --latency -s benches/events.lua $BASE \
    | awk -v batch=$1 '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /non-2xx/ {err=$3}
        END {printf "%.0f events/s (%s req/s), p50 %s, p99 %s, non-2xx %s\n", rps*batch, rps, p50, p99, err}'
}
echo "batches of 1000 events, 4 connections: $(run 1000 4)"
echo "single events, 32 connections:         $(run 1 32)"
echo "profiles: $(curl -s $BASE/health | python3 -c 'import sys,json; print(json.load(sys.stdin).get("profiles"))'), RSS after: $(rss)"
