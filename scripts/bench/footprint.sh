# Scenarios 6 and 7: memory per check in flight, and the rate next to the kernel's limit.
# Sourced by scripts/bench.sh.
#
# footprint  Peak RSS of `sitewatch --once --no-db` over FOOTPRINT_N (20,000) local URLs with
#            64, 2,048 and 10,000 workers, over plain HTTP and over HTTPS (the same nginx, a
#            self-signed certificate trusted through `ca_file`), and over HTTP to a 20 KB page that
#            nginx sends gzip-compressed ("gzip": what most real sites send). With that many URLs every worker
#            has a check in flight at the peak, so (RSS(W) − RSS(64)) ÷ (W − 64) is what one more
#            check in flight costs: thread stack, connection buffers, TLS state.
#            /usr/bin/time -f '%e %U %S %M' sitewatch --once --no-db -w W --format json LIST
# kernel     The same list, 64 workers, plain HTTP, next to `wrk -H "Connection: close"` (a fresh
#            connection per request, as sitewatch makes) against the same nginx in the same
#            round: sitewatch's checks/s (URLs ÷ wall time, start-up included) as a share of
#            wrk's requests/s. wrk is the ceiling: a C event loop that does nothing but connect,
#            send a fixed request, read the response and close.
#            wrk -t 2 -c 64 -d KERNEL_WRK_SECS s -H 'Connection: close' http://127.0.0.1:PORT/ok/wrk
#
# FOOTPRINT_BINS="label=path …" compares several builds of sitewatch in the same rounds (default:
# the release build as "sitewatch"). Knobs: FOOTPRINT_N, FOOTPRINT_WORKERS, FOOTPRINT_PROTOS, TLS_PORT,
# KERNEL_WORKERS, KERNEL_WRK_SECS.

footprint_bins() {
    if [[ -n ${FOOTPRINT_BINS:-} ]]; then
        echo "$FOOTPRINT_BINS"
    else
        echo "sitewatch=$SITEWATCH"
    fi
}

footprint_lists() {
    local n=$1
    mkdir -p "$BENCH_DIR/lists"
    "$PY" "$BENCH_PY/gen.py" list "http://127.0.0.1:$NGINX_PORT" "$n" "$BENCH_DIR/lists" "http-$n"
    "$PY" "$BENCH_PY/gen.py" list "https://127.0.0.1:$TLS_PORT" "$n" "$BENCH_DIR/lists" "https-$n" \
        --ca-file "$NGINX_PREFIX/ca.pem"
    "$PY" "$BENCH_PY/gen.py" list "http://127.0.0.1:$NGINX_PORT" "$n" "$BENCH_DIR/lists" "gzip-$n" \
        --path page
}

# footprint_once LABEL BIN PROTO N W RUN: one `--once` run, one line of footprint.jsonl.
footprint_once() {
    local label=$1 bin=$2 proto=$3 n=$4 w=$5 run=$6
    local list=$BENCH_DIR/lists/$proto-$n.json out=$BENCH_DIR/footprint/$label-$proto-$w-$run
    local load checked
    load=$(load1)
    run_timed "$out.time" "$bin" --once --no-db -w "$w" --format json "$list" >"$out.stdout" 2>"$out.stderr"
    read -r wall user sys rss < <(tail -1 "$out.time")
    checked=$(grep -c '"type":"check"' "$out.stdout" || true)
    printf '{"label":"%s","proto":"%s","n":%s,"workers":%s,"run":%s,"wall_s":%s,"user_s":%s,"sys_s":%s,"maxrss_kb":%s,"checked":%s,"load1":%s}\n' \
        "$label" "$proto" "$n" "$w" "$run" "$wall" "$user" "$sys" "$rss" "${checked:-0}" "$load" \
        >>"$RESULTS/footprint.jsonl"
    say "$label $proto w=$w run=$run: ${wall}s wall, ${rss} KiB peak, $checked checks"
    rm -f "$out.stdout"
}

scenario_footprint() {
    local n=${FOOTPRINT_N:-20000} workers=${FOOTPRINT_WORKERS:-64 2048 10000}
    TLS_PORT=${TLS_PORT:-18443}
    mkdir -p "$BENCH_DIR/footprint"
    : >"$RESULTS/footprint.jsonl"
    start_nginx
    footprint_lists "$n"
    wait_for_quiet
    local run proto w pair
    for run in $(seq 1 "$BENCH_RUNS"); do
        for proto in ${FOOTPRINT_PROTOS:-http https gzip}; do
            for w in $workers; do
                for pair in $(footprint_bins); do
                    footprint_once "${pair%%=*}" "${pair#*=}" "$proto" "$n" "$w" "$run"
                done
            done
        done
    done
    stop_nginx
}

scenario_kernel() {
    local n=${FOOTPRINT_N:-20000} w=${KERNEL_WORKERS:-64} secs=${KERNEL_WRK_SECS:-5}
    command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
    TLS_PORT=${TLS_PORT:-18443}
    mkdir -p "$BENCH_DIR/kernel"
    : >"$RESULTS/kernel.jsonl"
    start_nginx
    footprint_lists "$n"
    wait_for_quiet
    local run pair label bin out load rate
    for run in $(seq 1 "$BENCH_RUNS"); do
        out=$BENCH_DIR/kernel/wrk-$run
        load=$(load1)
        timeout $((secs + 30)) wrk -t 2 -c "$w" -d "${secs}s" -H 'Connection: close' \
            "http://127.0.0.1:$NGINX_PORT/ok/wrk" >"$out.txt" 2>&1 || true
        rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out.txt")
        printf '{"tool":"wrk","run":%s,"workers":%s,"rate":%s,"load1":%s}\n' \
            "$run" "$w" "${rate:-0}" "$load" >>"$RESULTS/kernel.jsonl"
        say "wrk run=$run: ${rate:-?} requests/s"
        for pair in $(footprint_bins); do
            label=${pair%%=*} bin=${pair#*=}
            out=$BENCH_DIR/kernel/$label-$run
            load=$(load1)
            run_timed "$out.time" "$bin" --once --no-db -w "$w" --format json \
                "$BENCH_DIR/lists/http-$n.json" >/dev/null 2>"$out.stderr"
            read -r wall user sys rss < <(tail -1 "$out.time")
            printf '{"tool":"%s","run":%s,"workers":%s,"n":%s,"wall_s":%s,"user_s":%s,"sys_s":%s,"maxrss_kb":%s,"rate":%s,"load1":%s}\n' \
                "$label" "$run" "$w" "$n" "$wall" "$user" "$sys" "$rss" \
                "$(awk -v n="$n" -v t="$wall" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }')" "$load" \
                >>"$RESULTS/kernel.jsonl"
            say "$label run=$run: $n checks in ${wall}s, ${user}+${sys}s CPU"
        done
    done
    stop_nginx
}
