# Scenario 5: the timing wheel alone (examples/wheel_bench.rs). Sourced by scripts/bench.sh.

scenario_wheel() {
    (cd "$ROOT" && cargo build --release --quiet --example wheel_bench)
    wait_for_quiet
    local load out
    load=$(load1)
    out=$("$ROOT/target/release/examples/wheel_bench" 1000000 "${BENCH_WHEEL_REPEATS:-5}")
    echo "$out" | sed '$d' >&2
    echo "$out" | tail -1 | sed "s/}\$/,\"load1\":$load}/" >"$RESULTS/wheel.json"
}
