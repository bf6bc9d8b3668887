# Shared helpers for scripts/bench.sh (sourced, not run). Everything here listens on and talks to
# 127.0.0.1 only, and every wait is bounded.

export PATH=$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_DIR=${BENCH_DIR:-$ROOT/target/bench}
RESULTS=$BENCH_DIR/results
SITEWATCH=$ROOT/target/release/sitewatch
LOCALSITE=$ROOT/target/release/examples/localsite
PY=${PYTHON:-python3}
BENCH_PY=$ROOT/scripts/bench
CLK_TCK=$(getconf CLK_TCK)

# Ports on 127.0.0.1 (override if taken).
NGINX_PORT=${NGINX_PORT:-18080}
PROM_PORT=${PROM_PORT:-19090}
BB_PORT=${BB_PORT:-19115}

mkdir -p "$RESULTS"

say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Processes started by this script, stopped on exit (by pid, never by name).
STARTED_PIDS=()
cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    sleep 0.5
    for pid in "${STARTED_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ -n ${NGINX_PREFIX:-} && -f $NGINX_PREFIX/nginx.pid ]]; then
        kill "$(cat "$NGINX_PREFIX/nginx.pid")" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Seconds of CPU (user + system) a process and its reaped children have used so far.
cpu_of() {
    local pid=$1
    [[ -r /proc/$pid/stat ]] || { echo 0; return; }
    # Fields after the ")" of comm: utime is field 14, stime 15 (1-based over the whole line).
    awk -v tck="$CLK_TCK" '{ sub(/^.*\) /, ""); print ($12 + $13) / tck }' "/proc/$pid/stat"
}

# Resident set size of a process in KiB.
rss_of() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# Peak resident set (VmHWM) of a running process, in KiB.
hwm_of() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

load1() { cut -d' ' -f1 /proc/loadavg; }

bb_prom_run() {
    # bb_prom_run DIR SECS OUT DATA MEMFN [PROMETHEUS_ARG…]: runs blackbox_exporter (DIR/blackbox.yml)
    # and Prometheus (DIR/prometheus.yml, its storage in DATA, removed after) for SECS; writes
    # "cpu_prom cpu_bb mem_prom_kb mem_bb_kb wall_s end_epoch" to OUT.prom, the memory as MEMFN
    # reads it (rss_of or hwm_of) just before Prometheus is stopped. Not in a subshell, so that
    # STARTED_PIDS keeps both processes for the exit trap.
    local dir=$1 secs=$2 out=$3 data=$4 memfn=$5 bbpid ppid i t0 t1
    shift 5
    rm -rf "$data"
    prometheus-blackbox-exporter --config.file="$dir/blackbox.yml" \
        --web.listen-address="127.0.0.1:$BB_PORT" >"$out.bb.log" 2>&1 &
    bbpid=$!
    STARTED_PIDS+=("$bbpid")
    for i in $(seq 1 100); do
        curl -fsS -o /dev/null "http://127.0.0.1:$BB_PORT/metrics" 2>/dev/null && break
        sleep 0.1
    done
    t0=$(now_s)
    prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$data" "$@" \
        --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$out.prom.log" 2>&1 &
    ppid=$!
    STARTED_PIDS+=("$ppid")
    sleep "$secs"
    local cp cb rp rb
    cp=$(cpu_of "$ppid")
    cb=$(cpu_of "$bbpid")
    rp=$("$memfn" "$ppid")
    rb=$("$memfn" "$bbpid")
    kill "$ppid" 2>/dev/null || true
    t1=$(now_s)
    for i in $(seq 1 300); do
        kill -0 "$ppid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$bbpid" 2>/dev/null || true
    kill -9 "$ppid" 2>/dev/null || true
    wait "$ppid" "$bbpid" 2>/dev/null || true
    rm -rf "$data"
    echo "$cp $cb $rp $rb $(fsub "$t1" "$t0") $t1" >"$out.prom"
}

# CPU seconds the whole machine has been busy (all processes, user + system + irq), so that a
# run can tell how much CPU others took while it ran: busy − the tool's − nginx's. The load
# average alone cannot, because it also counts the benchmark's own threads (256 workers).
busy_cpu() {
    awk -v tck="$CLK_TCK" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / tck; exit }' /proc/stat
}

# Waits (at most BENCH_LOAD_WAIT seconds, polling every 30 s) for the 1-minute load average to
# fall to BENCH_MAX_LOAD or below, so measurements are not taken while the machine is busy with
# something else. Measures anyway when the wait runs out, and the load is recorded either way.
wait_for_quiet() {
    local max=${BENCH_MAX_LOAD:-1.5} limit=${BENCH_LOAD_WAIT:-600} waited=0
    while awk -v l="$(load1)" -v m="$max" 'BEGIN { exit !(l > m) }'; do
        if ((waited >= limit)); then
            say "load $(load1) still above $max after ${waited}s; measuring anyway (recorded)"
            return 0
        fi
        say "load $(load1) above $max; waiting (${waited}/${limit}s)"
        sleep 30
        waited=$((waited + 30))
    done
}

# Installs what the benchmarks need, idempotently: Debian packages and lychee.
install_tools() {
    local missing=()
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v prometheus >/dev/null || missing+=(prometheus)
    command -v prometheus-blackbox-exporter >/dev/null || missing+=(prometheus-blackbox-exporter)
    [[ -x /usr/bin/time ]] || missing+=(time)
    command -v curl >/dev/null || missing+=(curl)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v python3 >/dev/null || missing+=(python3)
    if ((${#missing[@]})); then
        say "installing Debian packages: ${missing[*]}"
        local sudo=()
        ((EUID == 0)) || sudo=(sudo)
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    # lychee only for the throughput scenario (BENCH_NEED_LYCHEE=0 skips its long build).
    if [[ ${BENCH_NEED_LYCHEE:-1} == 1 ]] && ! command -v lychee >/dev/null && [[ ! -x $HOME/.cargo/bin/lychee ]]; then
        say "installing lychee with cargo (a long build)"
        cargo install lychee --locked
    fi
}

build_sitewatch() {
    say "building sitewatch (release) and the examples"
    (cd "$ROOT" && cargo build --release --quiet && cargo build --release --quiet --examples)
}

# Raises the open-file limit as far as the hard limit allows.
raise_nofile() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# Starts nginx on 127.0.0.1:$NGINX_PORT in its own prefix, with the access log that records
# the arrival of every request ($msec − $request_time). /hang/* is proxied to $HANG_BASE
# (sitewatch's localsite example, whose /hang never answers) when given.
start_nginx() {
    NGINX_PREFIX=$BENCH_DIR/nginx
    rm -rf "$NGINX_PREFIX"
    mkdir -p "$NGINX_PREFIX/tmp" "$NGINX_PREFIX/logs"
    if [[ ${TLS_PORT:-0} != 0 ]]; then
        # A throw-away CA (ca.pem, which sitewatch trusts through `ca_file`) and a certificate
        # for 127.0.0.1 signed by it (cert.pem, key.pem).
        local p=$NGINX_PREFIX
        {
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
                -subj /CN=sitewatch-bench-ca -keyout "$p/ca.key" -out "$p/ca.pem" &&
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
                    -keyout "$p/key.pem" -out "$p/cert.csr" &&
                printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n' >"$p/ext.cnf" &&
                openssl x509 -req -in "$p/cert.csr" -CA "$p/ca.pem" -CAkey "$p/ca.key" \
                    -CAcreateserial -days 2 -extfile "$p/ext.cnf" -out "$p/cert.pem"
        } >/dev/null 2>&1 || die "openssl could not make the certificates"
    fi
    # The page behind /page/: 20 KB of HTML, which nginx sends gzip-compressed (as most sites do).
    mkdir -p "$NGINX_PREFIX/html"
    "$PY" -c 'import sys; sys.stdout.write("<!doctype html><title>page</title>\n" + "".join("<p>line %d of a page</p>\n" % i for i in range(800)))' \
        >"$NGINX_PREFIX/html/page.html"
    "$BENCH_PY/nginx-conf.sh" "$NGINX_PREFIX" "$NGINX_PORT" "${HANG_PORT:-0}" "${TLS_PORT:-0}" \
        >"$NGINX_PREFIX/nginx.conf"
    nginx -p "$NGINX_PREFIX" -c "$NGINX_PREFIX/nginx.conf" -e "$NGINX_PREFIX/logs/error.log" \
        || die "nginx failed to start (see $NGINX_PREFIX/logs/error.log)"
    local i
    for i in $(seq 1 50); do
        curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/ok/probe" 2>/dev/null && break
        sleep 0.1
    done
    ACCESS_LOG=$NGINX_PREFIX/logs/access.log
    say "nginx up on 127.0.0.1:$NGINX_PORT (keep-alive on; $(nproc) workers)"
}

stop_nginx() {
    if [[ -n ${NGINX_PREFIX:-} && -f $NGINX_PREFIX/nginx.pid ]]; then
        kill "$(cat "$NGINX_PREFIX/nginx.pid")" 2>/dev/null || true
        local i
        for i in $(seq 1 50); do
            [[ -f $NGINX_PREFIX/nginx.pid ]] || break
            sleep 0.1
        done
    fi
}

# Summed CPU seconds of nginx's master and workers.
nginx_cpu() {
    local master total=0 pid
    master=$(cat "$NGINX_PREFIX/nginx.pid")
    for pid in $master $(pgrep -P "$master"); do
        total=$(awk -v a="$total" -v b="$(cpu_of "$pid")" 'BEGIN { print a + b }')
    done
    echo "$total"
}

# The access log's size now (nginx flushes its buffer at most 1 s after a write).
log_mark() {
    sleep 1.2
    stat -c %s "$ACCESS_LOG"
}

# Starts sitewatch's local test site (for /hang) for at most $1 seconds; sets HANG_PORT.
start_hang_site() {
    local secs=$1 out=$BENCH_DIR/localsite.out
    "$LOCALSITE" "$secs" >"$out" 2>/dev/null &
    STARTED_PIDS+=($!)
    local i
    for i in $(seq 1 50); do
        [[ -s $out ]] && break
        sleep 0.1
    done
    HANG_PORT=$(sed -E 's#^http://127\.0\.0\.1:([0-9]+).*#\1#' "$out" | head -1)
    [[ $HANG_PORT =~ ^[0-9]+$ ]] || die "localsite did not start"
}

machine_info() {
    {
        echo "{"
        echo "\"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
        echo "\"nproc\": $(nproc),"
        echo "\"cpu\": \"$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)\","
        echo "\"mem\": \"$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)\","
        echo "\"kernel\": \"$(uname -r)\","
        echo "\"rustc\": \"$(rustc --version)\","
        echo "\"nginx\": \"$(nginx -v 2>&1 | sed 's/.*: //')\","
        echo "\"lychee\": \"$(lychee --version 2>/dev/null | head -1)\","
        echo "\"curl\": \"$(curl --version | head -1 | cut -d' ' -f1-2)\","
        echo "\"prometheus\": \"$(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3)\","
        echo "\"blackbox\": \"$(prometheus-blackbox-exporter --version 2>&1 | head -1 | cut -d' ' -f1-3)\","
        echo "\"port_range\": \"$(sysctl -n net.ipv4.ip_local_port_range | tr '\t' ' ')\","
        echo "\"tcp_tw_reuse\": \"$(sysctl -n net.ipv4.tcp_tw_reuse)\","
        echo "\"nofile\": \"$(ulimit -n)\","
        echo "\"sitewatch_commit\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)\""
        echo "}"
    } >"$RESULTS/machine.json"
}

# CPU seconds used so far by the threads of process $1 whose name starts with $2.
thread_cpu() {
    local pid=$1 prefix=$2 total=0 t
    for t in /proc/"$pid"/task/*; do
        [[ $(cat "$t/comm" 2>/dev/null) == "$prefix"* ]] || continue
        total=$(awk -v a="$total" -v tck="$CLK_TCK" '{ sub(/^.*\) /, ""); print a + ($12 + $13) / tck }' "$t/stat")
    done
    echo "$total"
}

# The pid of the process that /usr/bin/time (pid $1) started, waiting up to 5 s for it.
child_of() {
    local i c
    for i in $(seq 1 100); do
        c=$(pgrep -P "$1" | head -1) && [[ -n $c ]] && { echo "$c"; return; }
        sleep 0.05
    done
    echo ""
}

now_s() { date +%s.%N; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
