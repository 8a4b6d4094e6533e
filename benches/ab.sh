#!/usr/bin/env bash
# A/B of two server configurations under HTTP search load: two release servers, each on its
# own copy of one data directory, both pinned to core 0 (one runs at a time: the other is
# idle), measured alternately A B B A by wrk pinned to core 1 with 8 connections, so both see
# the same machine. Prints each run's requests/s and the median ratio B/A.
# Usage: benches/ab.sh DATA_DIR A.toml B.toml [rounds, default 3] [seconds per run, default 5]
#        (EXTRA_PARAMS='&facets=brand' adds parameters to every search; QFILE another query list;
#        ENDPOINT another endpoint than /v1/search, such as /v1/autocomplete;
#        BIN_A, BIN_B other builds of the server, e.g. one of an earlier commit, to compare code)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1 CONF_A=$2 CONF_B=$3 ROUNDS=${4:-3} SECS=${5:-5}
QUERIES=${QFILE:-../shared/data/bestbuy_acm_sample/queries.txt}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
cargo build --release --quiet --bin attune
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
BIN_A=${BIN_A:-target/release/attune} BIN_B=${BIN_B:-target/release/attune}
start() { # name config port binary
  cp -r "$DATA" "$WORK/$1"
  RUST_LOG=warn taskset -c 0 "$4" serve --listen 127.0.0.1:$3 --data-dir "$WORK/$1" --config "$2" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$3/health >/dev/null && return; sleep 0.1; done
  echo "server $1 did not start" >&2; exit 1
}
start a "$CONF_A" 7791 "$BIN_A"
start b "$CONF_B" 7792 "$BIN_B"
sleep 2
rps() { # port
  QUERIES_FILE=$QUERIES ENDPOINT=${ENDPOINT:-/v1/search} EXTRA_PARAMS=${EXTRA_PARAMS:-} taskset -c 1 wrk -t1 -c8 -d${SECS}s -s benches/queries.lua http://127.0.0.1:$1 \
    | awk '/Requests\/sec/ {print $2}'
}
rps 7791 >/dev/null; rps 7792 >/dev/null   # warm both
ratios=()
for r in $(seq "$ROUNDS"); do
  a1=$(rps 7791); b1=$(rps 7792); b2=$(rps 7792); a2=$(rps 7791)
  ratio=$(echo "($b1 + $b2) / ($a1 + $a2)" | bc -l)
  ratios+=("$ratio")
  printf 'round %d: A %s, %s  B %s, %s req/s  B/A %.3f\n' "$r" "$a1" "$a2" "$b1" "$b2" "$ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END {printf "B/A median %.3f (range %.3f-%.3f) over %d rounds\n", v[int((NR+1)/2)], v[1], v[NR], NR}'
