#!/usr/bin/env bash
# sitewatch's benchmark suite: one command, everything on 127.0.0.1, every loop bounded.
#
# usage: scripts/bench.sh [SCENARIO...]     (default: all, in this order)
#   throughput  --once over 1k/10k/100k local URLs with 16/64/256 workers, next to lychee and curl
#   precision   10,000 monitors (5–60 s, plus hanging and failing URLs), and 10,000 every 10 s,
#               next to Prometheus + blackbox_exporter, measured from nginx's arrival log
#   overload    8 workers for 20,000 monitors every 5 s: memory over time, fairness, coalescing
#   scale       1,000,000 monitors every hour: start-up time, RSS, bytes per monitor, idle CPU
#   wheel       the timing wheel alone at 1 M entries (examples/wheel_bench.rs)
#   footprint   peak RSS per worker: 20,000 URLs at 64 / 2,048 / 10,000 workers, HTTP and HTTPS
#   kernel      --once rate over 20,000 URLs with 64 workers as a share of wrk's (Connection: close)
#   wan         100,000 monitors every 60 s against a site with the internet's delays, hanging,
#               refused and failing URLs (examples/latency_site.rs), sitewatch at 256/512/1024
#               workers next to Prometheus + blackbox_exporter (about 15 minutes)
#   report      only rewrite BENCHMARKS.md from the results already in target/bench
#
# It installs what it needs (Debian: nginx, prometheus, prometheus-blackbox-exporter, time, curl,
# wrk; Cargo: lychee), builds sitewatch in release mode, runs each scenario BENCH_RUNS times (default
# 3) and writes BENCHMARKS.md (medians) from the raw results in target/bench/results/.
# Before each scenario it waits up to BENCH_LOAD_WAIT s (default 600) for the 1-minute load
# average to drop to BENCH_MAX_LOAD (default 1.5); the load is recorded with every figure.
# Knobs (environment): BENCH_RUNS, BENCH_SIZES, BENCH_WORKERS, BENCH_PRECISION_SECS,
# BENCH_TARGET_SECS, BENCH_OVERLOAD_SECS, BENCH_SCALE_SECS, BENCH_SCALE_N, BENCH_WAN_N,
# BENCH_WAN_SECS, BENCH_WAN_WORKERS, BENCH_WAN_RUNS, NGINX_PORT, PROM_PORT, BB_PORT. A full run takes about an hour on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/common.sh
source "$ROOT/scripts/bench/common.sh"
for f in throughput precision overload scale wheel wan; do
    # shellcheck disable=SC1090
    source "$ROOT/scripts/bench/$f.sh"
done
# shellcheck source=bench/footprint.sh
source "$ROOT/scripts/bench/footprint.sh"

all=(throughput precision overload scale wheel footprint kernel wan)
scenarios=("$@")
((${#scenarios[@]})) || scenarios=("${all[@]}")
for s in "${scenarios[@]}"; do
    [[ " ${all[*]} report " == *" $s "* ]] || die "unknown scenario '$s' (one of: ${all[*]} report)"
done

if [[ ${scenarios[*]} != report ]]; then
    [[ " ${scenarios[*]} " == *" throughput "* ]] || BENCH_NEED_LYCHEE=0
    install_tools
    build_sitewatch
    raise_nofile
    machine_info
    for s in "${scenarios[@]}"; do
        [[ $s == report ]] && continue
        say "=== $s ==="
        "scenario_$s"
    done
fi
"$PY" "$BENCH_PY/report.py" "$RESULTS" "$ROOT/BENCHMARKS.md"
say "wrote BENCHMARKS.md"
