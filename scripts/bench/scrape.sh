#!/usr/bin/env bash
# The live surface under load, measured by hand (not part of scripts/bench.sh):
#  1. for N in SIZES: N monitors on the local test site, checked with history on; once every
#     monitor has had its first check (one interval: max(20 s, N / 1,000 s)), curl times
#     /metrics, / and /api/v1/status REPS times each: time to first byte, total, size (medians);
#  2. /metrics at BIG monitors (every hour) with "per_monitor_metrics": false;
#  3. schedule precision: 10,000 monitors every 10 s for PSECS s, without and then with a scraper
#     polling /metrics every second; sitewatch's own lateness (start − due) from its REPORT lines
#     every 10 s (the first report, the first round, left out), and missed / coalesced.
#
#   scripts/bench/scrape.sh [SITEWATCH_BINARY]          # default target/release/sitewatch
#   SIZES="10000 100000" BIG=1000000 REPS=5 PSECS=90 PRUNS=1 W=64 scripts/bench/scrape.sh
#   SIZES= BIG=0 PRUNS=2 scripts/bench/scrape.sh       # only precision, two pairs of runs
#
# Targets are `localsite` example processes on 127.0.0.1 (`/ok?n=i`, one URL per monitor);
# sitewatch listens on 127.0.0.1:PORT. Every wait is bounded; processes are stopped by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/target/release/sitewatch}
LOCALSITE=${LOCALSITE:-$ROOT/target/release/examples/localsite}
SIZES=${SIZES-10000 100000} BIG=${BIG:-1000000} REPS=${REPS:-5} PSECS=${PSECS:-90} W=${W:-64}
PRUNS=${PRUNS:-1}
PORT=${PORT:-19736}
OUT=${OUT:-$ROOT/target/bench/scrape}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
[[ -x $LOCALSITE ]] || cargo build --release --example localsite --manifest-path "$ROOT/Cargo.toml"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
say() { echo "$(date -u +%H:%M:%S) $*" >&2; }

"$LOCALSITE" 3600 >"$OUT/site.url" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s $OUT/site.url ]] && break; sleep 0.05; done
SITE=$(head -1 "$OUT/site.url")
SITE=${SITE%/}

config() { # config N INTERVAL_S PER_MONITOR(true|false) FILE
    python3 - "$SITE" "$@" <<'EOF'
import json, sys
site, n, interval, per, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
urls = [{"url": f"{site}/ok?n={i}", "group": f"g{i % 10}"} for i in range(n)]
doc = {"defaults": {"interval": interval, "timeout": "4s"},
       "server": {"per_monitor_metrics": per == "true"}, "urls": urls}
with open(path, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
EOF
}

SW=""
start() { # start NAME CONFIG [ARGS...]: sitewatch listening on PORT, returns when it answers
    local name=$1 cfg=$2
    shift 2
    rm -f "$OUT/$name.db"*
    "$BIN" --workers "$W" --db "$OUT/$name.db" --format json --report-every 10s \
        --listen "127.0.0.1:$PORT" "$@" "$cfg" >"$OUT/$name.jsonl" 2>"$OUT/$name.err" &
    SW=$!
    PIDS+=("$SW")
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && return 0
        kill -0 "$SW" 2>/dev/null || { cat "$OUT/$name.err" >&2; exit 1; }
        sleep 0.1
    done
    say "sitewatch did not answer within 60 s"
    exit 1
}

stop() { # stop: SIGINT, then wait (bounded) for the summary
    kill -INT "$SW" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$SW" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SW" 2>/dev/null || true
    wait "$SW" 2>/dev/null || true
}

timed() { # timed N PATH: REPS requests; one JSON line with medians
    local n=$1 path=$2 i
    for i in $(seq 1 "$REPS"); do
        curl -sS -o /dev/null --max-time 60 -w '%{time_starttransfer} %{time_total} %{size_download} %{http_code}\n' \
            "http://127.0.0.1:$PORT$path"
    done | python3 -c '
import json, statistics as s, sys
n, path, rss = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rows = [l.split() for l in sys.stdin if l.strip()]
print(json.dumps({"n": n, "path": path, "reps": len(rows),
    "ttfb_ms": round(s.median(float(r[0]) for r in rows) * 1000, 1),
    "total_ms": round(s.median(float(r[1]) for r in rows) * 1000, 1),
    "bytes": int(s.median(int(r[2]) for r in rows)), "codes": sorted({r[3] for r in rows}),
    "rss_mb": round(rss / 1024, 1), "load1": float(open("/proc/loadavg").read().split()[0])}))
' "$n" "$path" "$(awk '/^VmRSS:/ { print $2 }' "/proc/$SW/status")" | tee -a "$RESULTS"
}

for n in $SIZES; do
    interval=$((n / 1000 > 20 ? n / 1000 : 20))
    config "$n" "$interval" true "$OUT/size-$n.json"
    say "$n monitors every ${interval}s: waiting one interval for every first check"
    start "size-$n" "$OUT/size-$n.json"
    sleep $((interval + 5))
    for path in /metrics / /api/v1/status; do timed "$n" "$path"; done
    stop
done

if [[ $BIG != 0 ]]; then
    config "$BIG" 3600 false "$OUT/big.json"
    say "$BIG monitors every hour, per-monitor series off"
    start big "$OUT/big.json"
    sleep 10
    timed "$BIG" /metrics
    stop
fi

precision() { # precision LABEL SCRAPE(0|1)
    local label=$1 scrape=$2 i
    start "precision-$label" "$OUT/precision.json" --duration "${PSECS}s"
    if ((scrape)); then
        for i in $(seq 1 $((PSECS + 30))); do
            kill -0 "$SW" 2>/dev/null || break
            curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$PORT/metrics" || true
            sleep 1
        done
    fi
    for i in $(seq 1 $(((PSECS + 60) * 10))); do kill -0 "$SW" 2>/dev/null || break; sleep 0.1; done
    stop
    python3 - "$OUT/precision-$label.jsonl" "$label" <<'EOF' | tee -a "$RESULTS"
import json, statistics as s, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"type":"report"') or l.startswith('{"type":"summary"')]
reps = [r["lateness_ms"] for r in rows if r["type"] == "report"][1:]
summ = [r for r in rows if r["type"] == "summary"]
sm = summ[-1] if summ else {}
print(json.dumps({"precision": sys.argv[2], "reports": len(reps),
    "lateness_p50_ms": round(s.median(r["p50"] for r in reps), 2) if reps else None,
    "lateness_p99_ms": round(s.median(r["p99"] for r in reps), 2) if reps else None,
    "lateness_max_ms": max((r["max"] for r in reps), default=None),
    "checked": sm.get("checked_total"), "missed": sm.get("missed"), "coalesced": sm.get("coalesced"),
    "load1": float(open("/proc/loadavg").read().split()[0])}))
EOF
}

config 10000 10 true "$OUT/precision.json"
for run in $(seq 1 "$PRUNS"); do
    say "precision run $run: 10,000 monitors every 10 s for ${PSECS}s, without a scraper"
    precision quiet 0
    say "precision run $run: the same, /metrics scraped every second"
    precision scraped 1
done
rm -f "$OUT"/*.db*
say "results in $RESULTS"
