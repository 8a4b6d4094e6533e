#!/usr/bin/env bash
# HTTP load benchmark. Starts the release server pinned to core 0, ingests the 46k-product
# Best Buy catalog (../shared/data/retrotech_bestbuy, evaluation only) over HTTP, then runs wrk
# pinned to core 1 with 8 connections over 1,215 real Best Buy queries, and measures the same
# queries in-process on one core (plain tantivy and attune) as the baseline.
# Usage: benches/load.sh [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
SHARED=../shared/data
CATALOG=$SHARED/retrotech_bestbuy/products.ndjson.gz
QUERIES=$SHARED/bestbuy_acm_sample/queries.txt
PORT=${PORT:-7790}
BASE=http://127.0.0.1:$PORT
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }

cargo build --release --quiet --bin attune --example inprocess_qps
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
zcat "$CATALOG" > "$WORK/products.ndjson"
echo "catalog: $(wc -l < "$WORK/products.ndjson") products, $(du -h "$WORK/products.ndjson" | cut -f1)"

# Suggestions rebuilt every 5 s, so autocomplete below runs over the ingested catalog.
printf '[suggest]\nrebuild_interval_seconds = 5\n' > "$WORK/attune.toml"
RUST_LOG=warn taskset -c 0 target/release/attune serve --listen 127.0.0.1:$PORT --data-dir "$WORK/data" --config "$WORK/attune.toml" &
SERVER=$!
for _ in $(seq 100); do curl -sf $BASE/health >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status; }

start=$(date +%s.%N)
taskset -c 1 curl -sf -X POST -H 'content-type: application/x-ndjson' --data-binary @"$WORK/products.ndjson" $BASE/v1/products > "$WORK/ingest.json"
end=$(date +%s.%N)
echo "ingest over HTTP, one NDJSON body: $(echo "$end - $start" | bc) s: $(head -c 200 "$WORK/ingest.json")"
echo "RSS after ingest: $(rss)"
# Let the index writer's background merges of the new segments finish before measuring.
sleep 5

run_wrk() {
  QUERIES_FILE=${QFILE:-$QUERIES} ENDPOINT=${ENDPOINT:-/v1/search} EXTRA_PARAMS=$1 taskset -c 1 wrk -t1 -c8 -d${SECS}s --latency -s benches/queries.lua $BASE \
    | awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /non-2xx/ {err=$3} END {printf "%s req/s, p50 %s, p99 %s, non-2xx %s\n", rps, p50, p99, err}'
}
echo "HTTP search, 8 connections:                 $(run_wrk '')"
echo "HTTP search + facets category,brand,price:  $(run_wrk '&facets=category,brand,price')"
# Typo-tolerant search: the same queries with two neighbouring letters swapped in their
# longest word (a typo the engine corrects), against the exact queries above.
python3 - "$QUERIES" > "$WORK/typos.txt" <<'PY'
import sys
for q in open(sys.argv[1]):
    words = q.split()
    if not words:
        continue
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) >= 5 and w.isalpha():
        j = len(w) // 2
        words[i] = w[:j - 1] + w[j] + w[j - 1] + w[j + 1:]
    print(" ".join(words))
PY
echo "HTTP search, queries with a typo:           $(QFILE=$WORK/typos.txt run_wrk '')"
# Autocomplete: the first 2 to 6 characters of each query, as typed.
python3 - "$QUERIES" > "$WORK/prefixes.txt" <<'PY'
import sys
for q in open(sys.argv[1]):
    q = q.strip()
    for n in (2, 4, 6):
        if len(q) >= n:
            print(q[:n])
PY
echo "HTTP autocomplete, prefixes of 2-6 chars:   $(QFILE=$WORK/prefixes.txt ENDPOINT=/v1/autocomplete run_wrk '')"
echo "RSS after load: $(rss)"

# HTTP against tantivy in-process, alternately: three rounds of wrk on the server, then the
# in-process example on a copy of the same index (the server holds the index's writer lock),
# so each round's ratios are measured on the same machine state.
cp -r "$WORK/data" "$WORK/copy"
for round in 1 2 3; do
  http=$(run_wrk '' | awk '{print $1}')
  inproc=$(THROUGHPUT_ONLY=1 taskset -c 0 target/release/examples/inprocess_qps "$WORK/copy" "$QUERIES" 5 2>/dev/null)
  qps() { echo "$inproc" | awk -v k="$1" 'index($0, k) {print $(NF-1)}'; }
  any=$(qps "any word"); plans=$(qps "attune's query plans"); own=$(qps "attune search")
  awk -v r=$round -v h=$http -v a=$any -v p=$plans -v o=$own 'BEGIN {
    printf "round %d: HTTP %.0f req/s = %.0f %% of tantivy on attune plans (%.0f q/s), %.0f %% of plain any-word BM25 (%.0f q/s), %.0f %% of attune in-process (%.0f q/s)\n",
      r, h, 100*h/p, p, 100*h/a, a, 100*h/o, o }'
done
kill $SERVER; wait $SERVER 2>/dev/null || true

taskset -c 0 target/release/examples/inprocess_qps "$WORK/data" "$QUERIES" "$SECS"
