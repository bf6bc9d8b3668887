# Scenario 1: one-shot throughput. Sourced by scripts/bench.sh.
#
# Every tool gets the same list of distinct URLs on the same nginx, back to back in each round,
# at the same concurrency, and the arrival log checks that each requested every URL once:
#   sitewatch  --once -w W --format json           (fresh connection per check, one line per check)
#   lychee     --max-concurrency W --host-concurrency W --host-request-interval 0 --max-retries 0
#              (reuses connections: HTTP keep-alive, as it does by default)
#   lychee-fresh  the same with `--header 'Connection: close'`: a fresh connection per check
#   curl       xargs -P W -n 100 curl -s -H 'Connection: close' (100 URLs per curl process, a
#              fresh connection per URL; one process per URL would measure fork/exec instead)

run_timed() {
    # run_timed TIMEFILE CMD... : runs CMD under /usr/bin/time, bounded to 600 s.
    local tf=$1
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$tf" timeout 600 "$@" || true
}

throughput_once() {
    # throughput_once TOOL N W RUN
    local tool=$1 n=$2 w=$3 run=$4
    local list=$BENCH_DIR/lists/urls-$n out=$BENCH_DIR/throughput/$tool-$n-$w-$run
    local tf=$out.time cmd
    case $tool in
        sitewatch) cmd=("$SITEWATCH" --once -w "$w" --db "$list.db" --format json "$list.json") ;;
        lychee) cmd=(lychee --no-progress --max-concurrency "$w" --host-concurrency "$w"
            --host-request-interval 0 --max-retries 0 --timeout 10 --format json
            --output "$out.lychee.json" "$list.txt") ;;
        lychee-fresh) cmd=(lychee --no-progress --max-concurrency "$w" --host-concurrency "$w"
            --host-request-interval 0 --max-retries 0 --timeout 10 --format json
            --header 'Connection: close' --output "$out.lychee.json" "$list.txt") ;;
        curl) cmd=(xargs -P "$w" -n 100 -a "$list.txt" curl -s -H 'Connection: close' --max-time 10) ;;
    esac
    local m0 m1 load c0 c1 b0 b1
    load=$(load1)
    m0=$(log_mark)
    c0=$(nginx_cpu)
    b0=$(busy_cpu)
    run_timed "$tf" "${cmd[@]}" >"$out.stdout" 2>"$out.stderr"
    b1=$(busy_cpu)
    c1=$(nginx_cpu)
    m1=$(log_mark)
    local verify summary=null
    verify=$("$PY" "$BENCH_PY/analyze.py" verify "$ACCESS_LOG" "$m0" "$m1" "$list.txt")
    if [[ $tool == sitewatch ]]; then
        summary=$(grep '"type":"summary"' "$out.stdout" | tail -1)
        [[ -n $summary ]] || summary=null
    fi
    read -r wall user sys rss < <(tail -1 "$tf")
    printf '{"tool":"%s","n":%s,"workers":%s,"run":%s,"wall_s":%s,"user_s":%s,"sys_s":%s,"maxrss_kb":%s,"load1":%s,"nginx_cpu_s":%s,"others_cpu_s":%s,"verify":%s,"summary":%s}\n' \
        "$tool" "$n" "$w" "$run" "$wall" "$user" "$sys" "$rss" "$load" \
        "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" \
        "$(awk -v b0="$b0" -v b1="$b1" -v n0="$c0" -v n1="$c1" -v u="$user" -v s="$sys" \
            'BEGIN { o = (b1 - b0) - (n1 - n0) - u - s; printf "%.2f", (o > 0 ? o : 0) }')" "$verify" "$summary" \
        >>"$RESULTS/throughput.jsonl"
    say "$tool n=$n w=$w run=$run: ${wall}s wall, ${user}+${sys}s CPU, ${rss} KiB; $(echo "$verify" | "$PY" -c 'import json,sys; v=json.load(sys.stdin); print("requests", v["requests"], "every URL once" if v["every_url_once"] else "NOT every URL once", "fresh", v["fresh"])')"
}

scenario_throughput() {
    local sizes=${BENCH_SIZES:-1000 10000 100000} workers=${BENCH_WORKERS:-16 64 256}
    local tools=${BENCH_TOOLS:-sitewatch lychee lychee-fresh curl}
    mkdir -p "$BENCH_DIR/lists" "$BENCH_DIR/throughput"
    : >"$RESULTS/throughput.jsonl"
    start_nginx
    local n w run tool
    for n in $sizes; do
        "$PY" "$BENCH_PY/gen.py" list "http://127.0.0.1:$NGINX_PORT" "$n" "$BENCH_DIR/lists" "urls-$n"
    done
    wait_for_quiet
    for n in $sizes; do
        for w in $workers; do
            for run in $(seq 1 "$BENCH_RUNS"); do
                for tool in $tools; do
                    throughput_once "$tool" "$n" "$w" "$run"
                done
            done
        done
    done
    stop_nginx
}
