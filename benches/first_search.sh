#!/usr/bin/env bash
# The first search after a commit against the next one: writes one product (answered once the
# commit is on disk and the reader reloaded) and times it, then two searches, 7 times over.
# Usage: benches/first_search.sh BIN DATA_DIR [port, default 7811]
#        (DATA_DIR holds an imported catalog, e.g. Best Buy's; it is copied, not changed)
set -euo pipefail
BIN=$1 DATA=$2 PORT=${3:-7811}
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
cp -r "$DATA" "$WORK/data"
RUST_LOG=warn taskset -c 0 "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$WORK/data" &
PID=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.1; done
curl -s "http://127.0.0.1:$PORT/v1/search?q=tv" >/dev/null
for i in 1 2 3 4 5 6 7; do
  product="{\"id\":\"first-search-$i\",\"title\":\"first search lamp $i\",\"price\":$((10 + i)),\"category\":[\"Lamps\"]}"
  commit=$(curl -s -o /dev/null -w '%{time_total}' -H 'content-type: application/x-ndjson' \
    --data-binary "$product" http://127.0.0.1:$PORT/v1/products)
  first=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/v1/search?q=samsung+tv")
  second=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/v1/search?q=samsung+tv")
  echo "write $commit s, first search $first s, second $second s"
done
