#!/usr/bin/env bash
# A fleet under one Prometheus, measured by hand (not part of scripts/bench.sh): SHARDS sitewatch
# instances share one list of SHARDS × N monitors (`--shard K/SHARDS` when the binary has it;
# otherwise the list cut into SHARDS slices, which is the same load), all against one `localsite`
# example on 127.0.0.1, per-monitor series on (PER=false: off), no history (--no-db). One Prometheus scrapes them
# every SCRAPE seconds for SECS seconds. Results (one JSON line each, in target/bench/fleet):
#  - per shard: scrape duration (`scrape_duration_seconds`, max over the run), samples scraped,
#    the shard's RSS at the end, schedule lateness from its REPORT lines (median of p50 and p99,
#    largest max; the first report left out), checks finished;
#  - Prometheus: head series (`prometheus_tsdb_head_series`), peak RSS, and the machine's load.
# Prometheus is killed if its RSS passes MAXRSS_MB (a shared machine), and the run says so.
#
#   scripts/bench/fleet.sh [SITEWATCH_BINARY]       # default target/release/sitewatch
#   N=100000 SHARDS=3 INTERVAL=600 SCRAPE=15 SECS=180 MAXRSS_MB=8000 scripts/bench/fleet.sh
#   N=10000 scripts/bench/fleet.sh; N=100000 PER=false scripts/bench/fleet.sh   # PER: per-monitor series
#
# Every wait is bounded; processes are stopped by pid; the TSDB and lists are removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/target/release/sitewatch}
LOCALSITE=${LOCALSITE:-$ROOT/target/release/examples/localsite}
N=${N:-100000} SHARDS=${SHARDS:-3} INTERVAL=${INTERVAL:-600} SCRAPE=${SCRAPE:-15} SECS=${SECS:-180}
MAXRSS_MB=${MAXRSS_MB:-8000} W=${W:-32} PER=${PER:-true} BASEPORT=${BASEPORT:-19740}
OUT=${OUT:-$ROOT/target/bench/fleet}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
[[ -x $LOCALSITE ]] || cargo build --release --example localsite --manifest-path "$ROOT/Cargo.toml"
[[ -x $BIN ]] || cargo build --release --manifest-path "$ROOT/Cargo.toml"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TMP=$(mktemp -d)

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
say() { echo "$(date -u +%H:%M:%S) $*" >&2; }
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }

"$LOCALSITE" 3600 >"$TMP/site.url" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s $TMP/site.url ]] && break; sleep 0.05; done
SITE=$(head -1 "$TMP/site.url")
SITE=${SITE%/}

SHARDFLAG=0
"$BIN" --help 2>&1 | grep -q -- '--shard' && SHARDFLAG=1
TOTAL=$((N * SHARDS))
python3 - "$SITE" "$TOTAL" "$SHARDS" "$INTERVAL" "$SHARDFLAG" "$TMP" "$PER" <<'EOF'
import json, sys
site, total, shards, interval, flag, tmp, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6], sys.argv[7] == "true"
urls = [{"url": f"{site}/ok?n={i}", "group": f"g{i % 10}"} for i in range(total)]
def write(path, part):
    doc = {"defaults": {"interval": interval, "timeout": "5s"},
           "server": {"per_monitor_metrics": per}, "urls": part}
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
if flag:
    write(f"{tmp}/all.json", urls)
else:
    for k in range(shards):
        write(f"{tmp}/shard-{k + 1}.json", urls[k::shards])
EOF

SW=()
for k in $(seq 1 "$SHARDS"); do
    port=$((BASEPORT + k))
    if ((SHARDFLAG)); then args=(--shard "$k/$SHARDS" "$TMP/all.json"); else args=("$TMP/shard-$k.json"); fi
    "$BIN" --workers "$W" --no-db --format json --report-every 10s --listen "127.0.0.1:$port" \
        "${args[@]}" >"$OUT/shard-$k.jsonl" 2>"$OUT/shard-$k.err" &
    SW+=($!)
    PIDS+=($!)
done
for k in $(seq 1 "$SHARDS"); do
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "http://127.0.0.1:$((BASEPORT + k))/healthz" 2>/dev/null && break
        kill -0 "${SW[$((k - 1))]}" 2>/dev/null || { cat "$OUT/shard-$k.err" >&2; exit 1; }
        sleep 0.1
    done
done
say "$SHARDS shards × $N monitors every ${INTERVAL}s (--shard: $SHARDFLAG, per-monitor series: $PER), Prometheus every ${SCRAPE}s for ${SECS}s"

PPORT=$((BASEPORT + 50))
{
    echo "global: {scrape_interval: ${SCRAPE}s, scrape_timeout: ${SCRAPE}s, evaluation_interval: ${SCRAPE}s}"
    echo "scrape_configs:"
    echo "  - job_name: sitewatch"
    echo "    honor_labels: true"
    echo "    static_configs:"
    for k in $(seq 1 "$SHARDS"); do
        echo "      - {targets: ['127.0.0.1:$((BASEPORT + k))'], labels: {location: here, shard: '$k'}}"
    done
} >"$TMP/prometheus.yml"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
    --web.listen-address="127.0.0.1:$PPORT" >/dev/null 2>"$OUT/prometheus.log" &
PROM=$!
PIDS+=($PROM)

peak=0 tripped=false load_max=0
end=$(($(date +%s) + SECS))
while (($(date +%s) < end)); do
    kill -0 "$PROM" 2>/dev/null || break
    r=$(rss_mb "$PROM")
    ((r > peak)) && peak=$r
    l=$(cut -d' ' -f1 /proc/loadavg)
    load_max=$(awk -v a="$l" -v b="$load_max" 'BEGIN { print (a > b) ? a : b }')
    if ((r > MAXRSS_MB)); then tripped=true; say "Prometheus passed ${MAXRSS_MB} MB; stopping it"; break; fi
    sleep 1
done

q() { curl -fsS --max-time 30 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null || echo '{}'; }
# Prometheus's own gauge, read from its /metrics (it does not scrape itself here).
head_series=$(curl -fsS --max-time 30 "http://127.0.0.1:$PPORT/metrics" 2>/dev/null |
    awk '/^prometheus_tsdb_head_series / { print $2 }')
scrape_max=$(q "max_over_time(scrape_duration_seconds{job=\"sitewatch\"}[${SECS}s])")
samples=$(q "max_over_time(scrape_samples_scraped{job=\"sitewatch\"}[${SECS}s])")
upq=$(q 'count(sitewatch_up) by (shard)')
python3 - "$head_series" "$scrape_max" "$samples" "$peak" "$tripped" "$load_max" "$upq" "$N" "$PER" <<'EOF' | tee -a "$RESULTS"
import json, sys
def res(t):
    try: return json.loads(t)["data"]["result"]
    except Exception: return []
scrape, samples, up = res(sys.argv[2]), res(sys.argv[3]), res(sys.argv[7])
print(json.dumps({"prometheus": True, "n_per_shard": int(sys.argv[8]), "per_monitor": sys.argv[9],
    "head_series": int(float(sys.argv[1])) if sys.argv[1] else None,
    "peak_rss_mb": int(sys.argv[4]), "rss_cap_tripped": sys.argv[5] == "true",
    "scrape_duration_max_s": {r["metric"].get("shard"): round(float(r["value"][1]), 3) for r in scrape},
    "samples_per_scrape": {r["metric"].get("shard"): int(float(r["value"][1])) for r in samples},
    "sitewatch_up_series": {r["metric"].get("shard"): int(float(r["value"][1])) for r in up},
    "load1_max": float(sys.argv[6])}))
EOF
kill "$PROM" 2>/dev/null || true
wait "$PROM" 2>/dev/null || true

for k in $(seq 1 "$SHARDS"); do
    pid=${SW[$((k - 1))]}
    rss=$(rss_mb "$pid")
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    python3 - "$OUT/shard-$k.jsonl" "$k" "$rss" <<'EOF' | tee -a "$RESULTS"
import json, statistics as s, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"type":"report"') or l.startswith('{"type":"summary"')]
reps = [r["lateness_ms"] for r in rows if r["type"] == "report"][1:]
summ = [r for r in rows if r["type"] == "summary"]
sm = summ[-1] if summ else {}
print(json.dumps({"shard": int(sys.argv[2]), "rss_mb": int(sys.argv[3]), "reports": len(reps),
    "lateness_p50_ms": round(s.median(r["p50"] for r in reps), 2) if reps else None,
    "lateness_p99_ms": round(s.median(r["p99"] for r in reps), 2) if reps else None,
    "lateness_max_ms": max((r["max"] for r in reps), default=None),
    "checked": sm.get("checked_total"), "missed": sm.get("missed"), "coalesced": sm.get("coalesced")}))
EOF
    rm -f "$OUT/shard-$k.jsonl"
done
say "results in $RESULTS"
