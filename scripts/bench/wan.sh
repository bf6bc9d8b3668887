# Scenario "wan": the internet's shape on loopback. Sourced by scripts/bench.sh.
#
# BENCH_WAN_N monitors (default 100,000) every 60 s with a 10 s timeout against
# examples/latency_site.rs: 96 % answer 200 after a fixed per-URL delay (log-normal, median
# 80 ms, p99 1 s), 2 % accept and never answer, 1 % are refused, 1 % answer 503 after a delay
# (scripts/bench/wan.py gen). About N / 60 checks a second are due and, by Little's law,
# rate × mean time of a check are in flight (the never-answering 2 % hold theirs for 10 s).
# Run by sitewatch at each of BENCH_WAN_WORKERS (default "256 512 1024") and by Prometheus +
# blackbox_exporter (same targets, interval and timeout), one after the other, each for
# BENCH_WAN_SECS (default 200) s, BENCH_WAN_RUNS times (default 1: the full scenario takes
# about 15 minutes). A quick variant:
#   BENCH_WAN_N=10000 BENCH_WAN_SECS=90 BENCH_WAN_WORKERS="32 128" scripts/bench.sh wan
# From the site's arrival log (wan.py analyze): healthy monitors' checks made vs due after the
# first minute, missed occurrences, p99 |gap − interval|; per process CPU and peak RSS
# (VmHWM); the site's own CPU and how many answers it sent more than 5 ms late (it is not the
# bottleneck when that stays near 0 and its CPU well under a core).
#
# Loopback at ~1,700 new connections a second: the site closes first, so TIME_WAIT sits on its
# side, not on the clients' ephemeral ports; it listens on 127.0.0.1 … 127.0.0.4 and monitors
# are spread over the four, which quadruples the clients' port space; the open-file limit is
# raised to the hard limit (raise_nofile). Nothing else is changed on the machine.

WAN_HOSTS=4

wan_site_start() {
    local secs=$1 out=$BENCH_DIR/wan/site.out
    WAN_LOG=$BENCH_DIR/wan/arrivals.log
    "$ROOT/target/release/examples/latency_site" --secs "$secs" --log "$WAN_LOG" --hosts "$WAN_HOSTS" \
        >"$out" 2>"$BENCH_DIR/wan/site.err" &
    WAN_SITE_PID=$!
    STARTED_PIDS+=("$WAN_SITE_PID")
    local i
    for i in $(seq 1 50); do
        [[ -s $out ]] && break
        sleep 0.1
    done
    WAN_PORT=$(awk '{ print $2 }' "$out")
    [[ $WAN_PORT =~ ^[0-9]+$ ]] || die "latency_site did not start"
    say "latency site on 127.0.0.1-$WAN_HOSTS:$WAN_PORT (pid $WAN_SITE_PID)"
}

wan_prom() {
    # wan_prom DIR SECS OUT: Prometheus + blackbox_exporter for SECS; writes
    # "cpu_prom cpu_bb hwm_prom_kb hwm_bb_kb wall end_epoch" to OUT.prom.
    bb_prom_run "$1" "$2" "$3" "$BENCH_DIR/wan/prom-data" hwm_of \
        --storage.tsdb.retention.time=1h --storage.tsdb.retention.size=1GB
}

wan_once() {
    local tool=$1 workers=$2 run=$3 secs=$4
    local dir=$BENCH_DIR/wan out=$BENCH_DIR/wan/$tool-$workers-$run
    local load t0 t1 s0 s1 b0 b1 cpu rss wall extra="null"
    load=$(load1)
    s0=$(cpu_of "$WAN_SITE_PID")
    b0=$(busy_cpu)
    t0=$(now_s)
    if [[ $tool == sitewatch ]]; then
        rm -f "$dir"/history.db*
        /usr/bin/time -f '%e %U %S %M' -o "$out.time" timeout $((secs + 60)) \
            "$SITEWATCH" -w "$workers" --db "$dir/history.db" --format json --report-every 60s \
            --duration "${secs}s" "$dir/monitors.json" 2>"$out.stderr" \
            | grep -E '"type":"(report|summary)"' >"$out.reports" || true
        local user sys
        read -r wall user sys rss < <(tail -1 "$out.time")
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
        extra=$("$PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reps = [r for r in rows if r["type"] == "report"]
summ = [r for r in rows if r["type"] == "summary"]
s = summ[-1] if summ else {}
print(json.dumps({"pool": [r.get("pool") for r in reps],
                  "lateness": [r["lateness_ms"] for r in reps],
                  "held_back": reps[-1]["held_back"] if reps else None,
                  "checked_total": s.get("checked_total"), "coalesced": s.get("coalesced"),
                  "overflowed": s.get("overflowed"), "missed": s.get("missed")}))' "$out.reports")
        rm -f "$dir"/history.db*
    else
        local cp cb rp rb
        wan_prom "$dir" "$secs" "$out"
        read -r cp cb rp rb _ <"$out.prom"
        wall=$secs
        cpu=$(awk -v a="$cp" -v b="$cb" 'BEGIN { print a + b }')
        rss=$((rp + rb))
        extra="{\"prometheus_cpu_s\":$cp,\"blackbox_cpu_s\":$cb,\"prometheus_rss_kb\":$rp,\"blackbox_rss_kb\":$rb}"
    fi
    t1=$(awk -v a="$t0" -v s="$secs" 'BEGIN { printf "%.3f", a + s }')
    sleep 1.5 # the site flushes its log every second
    s1=$(cpu_of "$WAN_SITE_PID")
    b1=$(busy_cpu)
    local site others gaps span
    span=$(fsub "$(now_s)" "$t0") # what the machine's busy time was measured over
    site=$(fsub "$s1" "$s0")
    others=$(awk -v b0="$b0" -v b1="$b1" -v s="$site" -v c="$cpu" \
        'BEGIN { o = (b1 - b0) - s - c; printf "%.2f", (o > 0 ? o : 0) }')
    gaps=$("$PY" "$BENCH_PY/wan.py" analyze "$WAN_LOG" "$dir/plan.json" "$t0" "$t1")
    printf '{"tool":"%s","workers":%s,"run":%s,"n":%s,"secs":%s,"t0":%s,"span_s":%s,"wall_s":%s,"cpu_s":%s,"rss_kb":%s,"load1":%s,"site_cpu_s":%s,"others_cpu_s":%s,"gaps":%s,"own":%s}\n' \
        "$tool" "$workers" "$run" "$BENCH_WAN_N" "$secs" "$t0" "$span" "$wall" "$cpu" "$rss" "$load" "$site" "$others" "$gaps" "$extra" \
        >>"$RESULTS/wan.jsonl"
    say "wan $tool w=$workers run=$run: $(echo "$gaps" | "$PY" -c 'import json,sys; g=json.load(sys.stdin); d=g["dev_on_time_ms"]; print("made", g["made"], "of", g["due"], "due; never", g["never"], "; missed after 1 min", g["missed_steady"], "; dev p50", d["p50"], "p99", d["p99"], "ms")'); CPU ${cpu}s, peak RSS ${rss} KB, site CPU ${site}s"
}

scenario_wan() {
    BENCH_WAN_N=${BENCH_WAN_N:-100000}
    local secs=${BENCH_WAN_SECS:-200} runs=${BENCH_WAN_RUNS:-1} run w
    local workers=${BENCH_WAN_WORKERS:-256 512 1024}
    local tools=${BENCH_WAN_TOOLS:-sitewatch prometheus}
    local nw
    nw=$(wc -w <<<"$workers")
    mkdir -p "$BENCH_DIR/wan"
    : >"$RESULTS/wan.jsonl"
    wan_site_start $((runs * (nw + 1) * (secs + 90) + 120))
    "$PY" "$BENCH_PY/wan.py" gen "$WAN_PORT" "$WAN_HOSTS" "$BENCH_DIR/wan" --n "$BENCH_WAN_N" \
        --interval 60 --timeout 10 --bb-port "$BB_PORT" >"$RESULTS/wan-list.json"
    wait_for_quiet
    for run in $(seq 1 "$runs"); do
        for tool in $tools; do
            if [[ $tool == sitewatch ]]; then
                for w in $workers; do
                    wan_once sitewatch "$w" "$run" "$secs"
                    sleep 5
                done
            else
                wan_once prometheus 0 "$run" "$secs"
                sleep 5
            fi
        done
    done
    kill "$WAN_SITE_PID" 2>/dev/null || true
    wait "$WAN_SITE_PID" 2>/dev/null || true
    cp "$BENCH_DIR/wan/site.err" "$RESULTS/wan-site.txt" 2>/dev/null || true
    # The list and the arrival log are large and rebuilt by every run.
    rm -f "$WAN_LOG" "$BENCH_DIR/wan/monitors.json" "$BENCH_DIR/wan/prometheus.yml" "$BENCH_DIR/wan/plan.json"
}
