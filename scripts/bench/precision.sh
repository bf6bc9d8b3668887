# Scenario 2: schedule precision under load, measured from outside. Sourced by scripts/bench.sh.
#
# Two monitor sets, each run by sitewatch and by Prometheus + blackbox_exporter against the same
# nginx, back to back, BENCH_RUNS times:
#   mixed     9,980 monitors at 5, 10, 15, 20, 30, 45 and 60 s (in turn), plus 10 URLs that hang
#             until the 4 s timeout and 10 that fail with 503, all at 10 s;
#             BENCH_PRECISION_SECS (default 150) s
#   every10s  10,000 monitors every 10 s (the precision target); BENCH_TARGET_SECS (default 90) s
# sitewatch runs with 64 workers (capacity to spare: ~700 and 1,000 checks/s due); every check
# has a 4 s timeout (Prometheus: scrape_timeout and the blackbox module's timeout).
# From nginx's arrival log, analyze.py gives per monitor the gaps between arrivals against the
# interval (deviation, missed occurrences); sitewatch's own lateness (start − due, from its
# REPORT lines every 10 s) is reported next to it.

prom_run() {
    # prom_run SETDIR SECS OUT: runs Prometheus + blackbox_exporter for SECS; writes
    # "cpu_prom cpu_bb rss_prom_kb rss_bb_kb wall end_epoch" to OUT.prom.
    bb_prom_run "$1" "$2" "$3" "$BENCH_DIR/prom-data" rss_of
}

precision_once() {
    local set=$1 tool=$2 run=$3 secs=$4
    local dir=$BENCH_DIR/precision/$set out=$BENCH_DIR/precision/$set-$tool-$run
    local load m0 m1 end n0 n1 cpu wall rss extra="null"
    local b0 b1
    load=$(load1)
    m0=$(log_mark)
    n0=$(nginx_cpu)
    b0=$(busy_cpu)
    if [[ $tool == sitewatch ]]; then
        /usr/bin/time -f '%e %U %S %M' -o "$out.time" timeout $((secs + 60)) \
            "$SITEWATCH" -w 64 --db "$dir/history.db" --format json --report-every 10s --duration "${secs}s" "$dir/monitors.json" \
            >"$out.stdout" 2>"$out.stderr" || true
        end=$(now_s)
        read -r wall user sys rss < <(tail -1 "$out.time")
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
        extra=$(grep -E '"type":"(report|summary)"' "$out.stdout" | "$PY" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
reps = [r for r in rows if r["type"] == "report"]
summ = [r for r in rows if r["type"] == "summary"]
s = summ[-1] if summ else {}
print(json.dumps({"reports": [r["lateness_ms"] for r in reps],
                  "checked_total": s.get("checked_total"), "coalesced": s.get("coalesced"),
                  "overflowed": s.get("overflowed"), "missed": s.get("missed"),
                  "runtime_s": s.get("runtime_s")}))')
        rm -f "$out.stdout"
    else
        local cp cb rp rb
        prom_run "$dir" "$secs" "$out"
        read -r cp cb rp rb wall end <"$out.prom"
        cpu=$(awk -v a="$cp" -v b="$cb" 'BEGIN { print a + b }')
        rss=$((rp + rb))
        extra="{\"prometheus_cpu_s\":$cp,\"blackbox_cpu_s\":$cb,\"prometheus_rss_kb\":$rp,\"blackbox_rss_kb\":$rb}"
    fi
    b1=$(busy_cpu)
    n1=$(nginx_cpu)
    m1=$(log_mark)
    local gaps others
    others=$(awk -v b0="$b0" -v b1="$b1" -v n0="$n0" -v n1="$n1" -v c="$cpu" \
        'BEGIN { o = (b1 - b0) - (n1 - n0) - c; printf "%.2f", (o > 0 ? o : 0) }')
    gaps=$("$PY" "$BENCH_PY/analyze.py" gaps "$ACCESS_LOG" "$m0" "$m1" "$dir/plan.json" --end "$end")
    printf '{"set":"%s","tool":"%s","run":%s,"secs":%s,"wall_s":%s,"cpu_s":%s,"rss_kb":%s,"load1":%s,"nginx_cpu_s":%s,"others_cpu_s":%s,"gaps":%s,"own":%s}\n' \
        "$set" "$tool" "$run" "$secs" "$wall" "$cpu" "$rss" "$load" "$(fsub "$n1" "$n0")" "$others" "$gaps" "$extra" \
        >>"$RESULTS/precision.jsonl"
    say "precision $set $tool run=$run: $(echo "$gaps" | "$PY" -c 'import json,sys; g=json.load(sys.stdin); d=g["dev_on_time_ms"]; print("gaps", g["gaps"], "dev p50", d["p50"], "p99", d["p99"], "max", d["max"], "ms; missed", g["missed"], "(%s %%)" % g["missed_pct"])'); CPU ${cpu}s in ${wall}s"
}

scenario_precision() {
    local secs=${BENCH_PRECISION_SECS:-150} tsecs=${BENCH_TARGET_SECS:-90} run set tool
    local tools=${BENCH_PRECISION_TOOLS:-sitewatch prometheus}
    mkdir -p "$BENCH_DIR/precision"
    : >"$RESULTS/precision.jsonl"
    start_hang_site $((BENCH_RUNS * 2 * (secs + tsecs + 60) + 600))
    start_nginx
    local base="http://127.0.0.1:$NGINX_PORT"
    "$PY" "$BENCH_PY/gen.py" monitors "$base" "$BENCH_DIR/precision/mixed" --ok 9980 \
        --intervals 5,10,15,20,30,45,60 --hang 10 --fail 10 --timeout 4 --bb-port "$BB_PORT"
    "$PY" "$BENCH_PY/gen.py" monitors "$base" "$BENCH_DIR/precision/every10s" --ok 10000 \
        --intervals 10 --timeout 4 --bb-port "$BB_PORT"
    wait_for_quiet
    for run in $(seq 1 "$BENCH_RUNS"); do
        for set in mixed every10s; do
            local s=$secs
            [[ $set == every10s ]] && s=$tsecs
            for tool in $tools; do
                precision_once "$set" "$tool" "$run" "$s"
            done
        done
    done
    stop_nginx
}
