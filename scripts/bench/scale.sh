# Scenario 4: scale of the list. Sourced by scripts/bench.sh.
#
# 1,000,000 monitors at 1 h intervals (and 1,000 for the baseline), all pointing at nginx, run
# for BENCH_SCALE_SECS (default 60 s) with 16 workers. Start-up = from exec to the first check
# line on stdout (config parsed and validated, schedule built, threads up, first check done).
# RSS is sampled 5 s after that; bytes per monitor = (RSS 1 M − RSS 1 k) / (1 M − 1 k).
# "Idle": with 1 h intervals the first round is released at 1,000 checks/s (WARMUP_PER_SECOND)
# for 1,000 s, and after that 1 M / 3,600 s = 278 checks/s are due: a 1 M list is never idle.
# So the scheduler thread's own CPU is measured (from /proc/PID/task) from 10 s after start-up to
# the end while it dispatches 1,000 checks/s: an upper bound for its idle cost. The whole
# process's CPU (workers doing the HTTP checks) is given next to it. Two more lists give the
# other ends: 1,000 monitors at 1 h are truly idle after their first second (nothing due for
# half an hour), and 2,780 monitors every 10 s release 278 checks/s, the steady rate of a
# million at 1 h (the wheel's own cost barely depends on the list's length: examples/wheel_bench).

scale_once() {
    local which=$1 n=$2 run=$3 secs=$4
    local list=$BENCH_DIR/scale/urls-$which out=$BENCH_DIR/scale/$which-$run
    local load t0 tpid pid t_first="" i
    load=$(load1)
    t0=$(now_s)
    /usr/bin/time -f '%e %U %S %M' -o "$out.time" \
        "$SITEWATCH" -w 16 --db "$list.db" --format json --report-every 10s --duration "${secs}s" "$list.json" \
        >"$out.stdout" 2>"$out.stderr" &
    tpid=$!
    STARTED_PIDS+=("$tpid")
    pid=$(child_of "$tpid")
    STARTED_PIDS+=("$pid")
    for i in $(seq 1 3000); do # at most 60 s
        if grep -q -m1 '"type":"check"' "$out.stdout" 2>/dev/null; then
            t_first=$(now_s)
            break
        fi
        kill -0 "$tpid" 2>/dev/null || break
        sleep 0.02
    done
    [[ -n $t_first ]] || die "sitewatch ($which) printed no check within 60 s"
    local startup rss5 s0 p0 s1 p1 t1 t2
    startup=$(fsub "$t_first" "$t0")
    sleep 5
    rss5=$(rss_of "$pid")
    sleep 5
    t1=$(now_s)
    s0=$(thread_cpu "$pid" sitewatch-sched)
    p0=$(cpu_of "$pid")
    local remaining
    remaining=$(awk -v s="$secs" -v a="$t1" -v b="$t0" 'BEGIN { r = s - (a - b) - 3; print (r > 1 ? r : 1) }')
    sleep "$remaining"
    t2=$(now_s)
    s1=$(thread_cpu "$pid" sitewatch-sched)
    p1=$(cpu_of "$pid")
    for i in $(seq 1 600); do # at most 60 s more
        kill -0 "$tpid" 2>/dev/null || break
        sleep 0.1
    done
    wait "$tpid" || true
    local window summary
    window=$(fsub "$t2" "$t1")
    summary=$(grep '"type":"summary"' "$out.stdout" | tail -1)
    read -r wall user sys rss < <(tail -1 "$out.time")
    printf '{"which":"%s","n":%s,"run":%s,"secs":%s,"startup_s":%s,"rss5_kb":%s,"maxrss_kb":%s,"wall_s":%s,"user_s":%s,"sys_s":%s,"window_s":%s,"sched_cpu_s":%s,"proc_cpu_s":%s,"load1":%s,"summary":%s}\n' \
        "$which" "$n" "$run" "$secs" "$startup" "$rss5" "$rss" "$wall" "$user" "$sys" "$window" \
        "$(fsub "$s1" "$s0")" "$(fsub "$p1" "$p0")" "$load" "${summary:-null}" >>"$RESULTS/scale.jsonl"
    say "scale $which run=$run: start-up ${startup}s, RSS ${rss5} KiB (peak $rss), scheduler $(fsub "$s1" "$s0") s CPU in ${window} s"
    rm -f "$out.stdout"
}

scenario_scale() {
    local n=${BENCH_SCALE_N:-1000000} secs=${BENCH_SCALE_SECS:-60} run
    mkdir -p "$BENCH_DIR/scale"
    : >"$RESULTS/scale.jsonl"
    start_nginx
    "$PY" "$BENCH_PY/gen.py" list "http://127.0.0.1:$NGINX_PORT" "$n" "$BENCH_DIR/scale" urls-big --interval 1h
    "$PY" "$BENCH_PY/gen.py" list "http://127.0.0.1:$NGINX_PORT" 1000 "$BENCH_DIR/scale" urls-small --interval 1h
    "$PY" "$BENCH_PY/gen.py" list "http://127.0.0.1:$NGINX_PORT" 2780 "$BENCH_DIR/scale" urls-steady --interval 10s
    wait_for_quiet
    for run in $(seq 1 "$BENCH_RUNS"); do
        scale_once small 1000 "$run" "$secs"
        scale_once big "$n" "$run" "$secs"
        scale_once steady 2780 "$run" "$secs"
    done
    stop_nginx
}
