# Scenario 3: overload. Sourced by scripts/bench.sh.
#
# BENCH_OVERLOAD_WORKERS (8) workers for BENCH_OVERLOAD_N (20,000) monitors every
# BENCH_OVERLOAD_INTERVAL (2) s, for BENCH_OVERLOAD_SECS (120) s: 10,000 checks/s due, about
# twice what 8 workers can do on this 2-core machine (at 5 s, 4,000/s, they nearly keep up). RSS is sampled every 5 s (is memory flat?);
# the arrival log gives each monitor's number of checks (is every monitor served, how evenly?);
# sitewatch's summary gives coalesced / overflowed counts.

scenario_overload() {
    local n=${BENCH_OVERLOAD_N:-20000} iv=${BENCH_OVERLOAD_INTERVAL:-2}
    local w=${BENCH_OVERLOAD_WORKERS:-8} secs=${BENCH_OVERLOAD_SECS:-120} run
    local dir=$BENCH_DIR/overload
    mkdir -p "$dir"
    : >"$RESULTS/overload.jsonl"
    start_nginx
    "$PY" "$BENCH_PY/gen.py" monitors "http://127.0.0.1:$NGINX_PORT" "$dir" --ok "$n" --intervals "$iv"
    wait_for_quiet
    for run in $(seq 1 "$BENCH_RUNS"); do
        local out=$dir/run-$run load m0 m1 tpid pid t0 i samples=""
        load=$(load1)
        m0=$(log_mark)
        t0=$(now_s)
        /usr/bin/time -f '%e %U %S %M' -o "$out.time" \
            "$SITEWATCH" -w "$w" --db "$dir/history.db" --format json --report-every 10s --duration "${secs}s" "$dir/monitors.json" \
            >"$out.stdout" 2>"$out.stderr" &
        tpid=$!
        STARTED_PIDS+=("$tpid")
        pid=$(child_of "$tpid")
        STARTED_PIDS+=("$pid")
        for i in $(seq 1 $((secs / 5 + 12))); do # bounded: the run plus a minute
            sleep 5
            kill -0 "$pid" 2>/dev/null || break
            samples+="[$(fsub "$(now_s)" "$t0"),$(rss_of "$pid")],"
        done
        wait "$tpid" || true
        m1=$(log_mark)
        local counts summary reports
        counts=$("$PY" "$BENCH_PY/analyze.py" counts "$ACCESS_LOG" "$m0" "$m1" "$dir/plan.json")
        summary=$(grep '"type":"summary"' "$out.stdout" | tail -1)
        reports=$(grep '"type":"report"' "$out.stdout" | "$PY" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
print(json.dumps([{k: r.get(k) for k in ("checked_interval", "queue_depth", "overflow_depth", "coalesced", "overflowed", "missed", "lateness_ms", "window_s")} for r in rows]))')
        read -r wall user sys rss < <(tail -1 "$out.time")
        printf '{"n":%s,"interval_s":%s,"workers":%s,"run":%s,"secs":%s,"wall_s":%s,"user_s":%s,"sys_s":%s,"maxrss_kb":%s,"load1":%s,"rss_samples":[%s],"counts":%s,"reports":%s,"summary":%s}\n' \
            "$n" "$iv" "$w" "$run" "$secs" "$wall" "$user" "$sys" "$rss" "$load" "${samples%,}" \
            "$counts" "$reports" "${summary:-null}" >>"$RESULTS/overload.jsonl"
        say "overload run=$run: $(echo "$counts" | "$PY" -c 'import json,sys; c=json.load(sys.stdin); print(c["requests"], "checks; per monitor min", c["min"], "median", c["p50"], "max", c["max"], "; never", c["never_requested"])'); peak RSS $rss KiB"
        rm -f "$out.stdout"
    done
    stop_nginx
}
