#!/usr/bin/env bash
# Dead sites vs a healthy one: N URLs that accept the connection and never answer (timeout T) and
# one healthy URL checked every second, listed first, on W workers, for SECS seconds (JSON lines,
# no history). Prints the healthy URL's checks and lateness after the first SKIP seconds.
#
#   scripts/bench/starvation.sh [SITEWATCH_BINARY]      # default target/release/sitewatch
#   N=5000 W=64 T=3s SECS=120 SKIP=60 scripts/bench/starvation.sh
#
# The sites are two `localsite` example processes on 127.0.0.1 (one for /hang, one for /ok, so
# the healthy one is not slowed by thousands of hanging connections); everything is bounded.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/target/release/sitewatch}
LOCALSITE=${LOCALSITE:-$ROOT/target/release/examples/localsite}
N=${N:-5000} W=${W:-64} T=${T:-3s} SECS=${SECS:-120} SKIP=${SKIP:-60}
OUT=${OUT:-$ROOT/target/bench/starvation}
mkdir -p "$OUT"
[[ -x $LOCALSITE ]] || cargo build --release --example localsite --manifest-path "$ROOT/Cargo.toml"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

serve() { # serve NAME: starts a localsite for SECS + 60 s, prints its base URL
    "$LOCALSITE" $((SECS + 60)) >"$OUT/$1.url" 2>/dev/null &
    PIDS+=($!)
    for _ in $(seq 1 100); do [[ -s $OUT/$1.url ]] && break; sleep 0.05; done
    head -1 "$OUT/$1.url"
}
hang=$(serve hang)
ok=$(serve ok)
python3 "$ROOT/scripts/bench/starvation.py" config "$hang" "$ok" "$N" "$T" "$OUT/urls.json"
echo "$(date -u +%H:%M:%S) $BIN: $N never-answering + 1 healthy, -w $W, timeout $T, ${SECS}s; load $(cut -d' ' -f1 /proc/loadavg)" >&2
"$BIN" --no-db --format json --workers "$W" --duration "${SECS}s" "$OUT/urls.json" >"$OUT/stdout.jsonl" 2>"$OUT/stderr.log" || true
python3 "$ROOT/scripts/bench/starvation.py" analyze "$OUT/stdout.jsonl" "$ok/ok" "$SKIP" "$SECS"
