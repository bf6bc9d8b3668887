#!/usr/bin/env bash
# The live status surface under abuse: does it move check lateness? N monitors of a local site
# every INTERVAL, run twice for SECS seconds with `--listen`: once quiet, once while IDLE idle
# (slowloris) connections are held open to the port and /api/v1/status and /healthz are scraped
# in a tight loop. Prints the lateness of the checks (after the first SKIP seconds) of both runs,
# and the scrapes' rate, status codes and latency.
#
#   scripts/bench/surface.sh [SITEWATCH_BINARY]      # default target/release/sitewatch
#   N=2000 INTERVAL=2s IDLE=1000 SECS=60 SKIP=10 scripts/bench/surface.sh
#
# Everything is on 127.0.0.1 and bounded: the site is a `localsite` example process, sitewatch
# stops by itself (--duration), the load ends after SECS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/target/release/sitewatch}
LOCALSITE=${LOCALSITE:-$ROOT/target/release/examples/localsite}
N=${N:-2000} INTERVAL=${INTERVAL:-2s} IDLE=${IDLE:-1000} SECS=${SECS:-60} SKIP=${SKIP:-10}
OUT=${OUT:-$ROOT/target/bench/surface}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
[[ -x $LOCALSITE ]] || cargo build --release --example localsite --manifest-path "$ROOT/Cargo.toml"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$LOCALSITE" $((2 * SECS + 120)) >"$OUT/site.url" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s $OUT/site.url ]] && break; sleep 0.05; done
site=$(head -1 "$OUT/site.url")
"$PY" "$ROOT/scripts/bench/surface.py" config "$site" "$N" "$INTERVAL" "$OUT/urls.json"

run() { # run NAME LOAD(0|1)
    local name=$1 with_load=$2 pid addr
    echo "$(date -u +%H:%M:%S) $name: $N monitors every $INTERVAL, ${SECS}s, load $(cut -d' ' -f1 /proc/loadavg)" >&2
    "$BIN" --no-db --format json --listen 127.0.0.1:0 --duration "${SECS}s" "$OUT/urls.json" \
        >"$OUT/$name.jsonl" 2>"$OUT/$name.err" &
    pid=$!
    PIDS+=("$pid")
    addr=""
    for _ in $(seq 1 200); do
        # The whole address: up to the slash that ends it (the line may be read half-written).
        addr=$(grep -o 'listening on http://[^/]*/' "$OUT/$name.err" 2>/dev/null | sed 's|.*http://||; s|/$||' || true)
        [[ -n $addr ]] && break
        sleep 0.05
    done
    [[ -n $addr ]] || { echo "no listening line in $OUT/$name.err" >&2; exit 1; }
    if ((with_load)); then
        # Room for the idle connections in the load generator only: sitewatch keeps its own
        # limit (it sizes the connections it holds from it).
        (ulimit -n $((IDLE + 256)) 2>/dev/null || true
            "$PY" "$ROOT/scripts/bench/surface.py" load "$addr" "$IDLE" $((SECS - 2)) "$OUT/$name.load.json" >&2)
    fi
    wait "$pid" || true
    printf '%s lateness: ' "$name" >&2
    "$PY" "$ROOT/scripts/bench/surface.py" analyze "$OUT/$name.jsonl" "$SKIP"
}
run quiet 0
run loaded 1
