#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the raw results of scripts/bench.sh (stdlib only).

usage: report.py RESULTS_DIR BENCHMARKS.md

Every figure is the median over the runs of a cell; the load average is the 1-minute load when
the cell's runs started (median, and the highest). The hand-written interpretation is taken from
scripts/bench/analysis.md and appended as it is.
"""
import json
import os
import statistics
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wan  # noqa: E402  (the WAN-shaped section lives beside its scenario)


def load_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if abs(v) >= 100 or digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def load_cell(rows):
    loads = [r["load1"] for r in rows if r.get("load1") is not None]
    if not loads:
        return "–"
    return f"{statistics.median(loads):.2f} (≤ {max(loads):.2f})"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


TOOL_ORDER = ["sitewatch", "lychee", "lychee-fresh", "curl"]


def throughput(rows, out, targets, headline):
    if not rows:
        return
    cells = defaultdict(list)
    for r in rows:
        cells[(r["n"], r["workers"], r["tool"])].append(r)
    med_of = {}
    for key, rs in cells.items():
        n = key[0]
        med_of[key] = {
            "wall": med([r["wall_s"] for r in rs]),
            "rate": med([n / r["wall_s"] for r in rs if r["wall_s"]]),
            "cpu1k": med([(r["user_s"] + r["sys_s"]) * 1000 / n for r in rs]),
            "rss": med([r["maxrss_kb"] / 1024 for r in rs]),
            "nginx": med([r.get("nginx_cpu_s") for r in rs]),
            "others": med([r.get("others_cpu_s") for r in rs]),
            "once": all(r["verify"]["every_url_once"] for r in rs),
            "fresh": med([100.0 * r["verify"]["fresh"] / max(1, r["verify"]["requests"]) for r in rs]),
            "runs": len(rs),
            "load": load_cell(rs),
            "own": med([r["summary"]["checked_total"] / r["summary"]["runtime_s"]
                        for r in rs if r.get("summary")]),
        }
    out.append("## 1. One-shot throughput\n")
    out.append(
        "Each tool checks the same list of distinct URLs (`/ok/0` … on nginx, `return 200`) at the "
        "same concurrency, back to back in every round. *checks/s* = URLs ÷ wall time (process "
        "start to exit, so start-up and output are included); *CPU/1k* = user + system CPU seconds "
        "of the tool per 1,000 checks (nginx's CPU is not included; it is given separately, and so "
        "is *others' CPU*: what the rest of the machine used during the run, i.e. all busy CPU "
        "time minus the tool's and nginx's, which shows contention from other work better than "
        "the load average, itself raised by the benchmark's own 256 threads); "
        "*RSS* = peak resident memory. *once* = the arrival log shows every URL requested exactly "
        "once; *fresh* = share of requests that were the first on their TCP connection. Ratios are "
        "the other tool's figure divided by sitewatch's in the same cell: checks/s below 1× means "
        "slower than sitewatch, CPU and RSS above 1× mean more than sitewatch.\n"
    )
    header = ["URLs", "workers", "tool", "wall s", "checks/s", "CPU s/1k", "peak RSS MB",
              "× checks/s", "× CPU/1k", "× RSS", "once", "fresh %", "nginx CPU s", "others' CPU s", "load (max)"]
    body = []
    wins = defaultdict(list)
    for n in sorted({k[0] for k in cells}):
        for w in sorted({k[1] for k in cells if k[0] == n}):
            sw = med_of.get((n, w, "sitewatch"))
            for tool in TOOL_ORDER:
                m = med_of.get((n, w, tool))
                if not m:
                    continue
                rel = tool != "sitewatch" and sw
                body.append([
                    f"{n:,}", w, tool, fmt(m["wall"], 2), fmt(m["rate"], 0), fmt(m["cpu1k"], 3),
                    fmt(m["rss"], 1),
                    ratio(m["rate"], sw["rate"]) if rel else "1",
                    ratio(m["cpu1k"], sw["cpu1k"]) if rel else "1",
                    ratio(m["rss"], sw["rss"]) if rel else "1",
                    "yes" if m["once"] else "**no**", fmt(m["fresh"], 0), fmt(m["nginx"], 2),
                    fmt(m["others"], 2), m["load"],
                ])
                if rel and tool.startswith("lychee"):
                    wins[tool].append((n, w, sw["rate"] >= m["rate"], sw["cpu1k"] <= m["cpu1k"],
                                       sw["rss"] / m["rss"] if m["rss"] else None))
    out.append(table(header, body) + "\n")
    runs = sorted({m["runs"] for m in med_of.values()})
    out.append(f"Runs per cell: {', '.join(map(str, runs))}. sitewatch's own figure "
               "(`checked_total / runtime_s` from its summary, i.e. without process start-up and "
               "config loading) is in the raw results.\n")
    for tool, cells_ in sorted(wins.items(), reverse=True):
        faster = sum(1 for c in cells_ if c[2])
        cheaper = sum(1 for c in cells_ if c[3])
        fraction = [c for c in cells_ if c[4] is not None and c[4] < 1]
        over = [f"{n:,} URLs × {w}" for n, w, _, _, m in cells_ if m is not None and m >= 1]
        what = ("target: lychee with a fresh connection per check" if tool == "lychee-fresh"
                else "for reference: lychee reusing connections, as it does by default")
        line = (
            f"- Throughput vs `{tool}` ({what}): sitewatch at least as fast in {faster} of "
            f"{len(cells_)} cells, no more CPU per check in {cheaper} of {len(cells_)}, memory "
            f"{min(c[4] for c in cells_ if c[4]):.2f}–{max(c[4] for c in cells_ if c[4]):.2f} of "
            f"{tool}'s (less in {len(fraction)} of {len(cells_)}"
            + (f"; not less with {', '.join(over)} workers" if over else "") + ")"
        )
        if tool == "lychee-fresh":
            ok = faster == cheaper == len(fraction) == len(cells_)
            line += (": **met**" if ok else
                     ": **met** for speed and CPU" if faster == cheaper == len(cells_) else
                     ": **missed**")
            if not ok and faster == cheaper == len(cells_):
                line += ", **missed** for memory where noted"
        targets.append(line + ".")
    # Headline: the largest list at 64 workers (or the middle worker count).
    ns = sorted({k[0] for k in cells})
    n = ns[-1]
    ws = sorted({k[1] for k in cells if k[0] == n})
    w = 64 if 64 in ws else ws[len(ws) // 2]
    sw = med_of.get((n, w, "sitewatch"))
    if sw:
        parts = [f"sitewatch {fmt(sw['rate'], 0)} checks/s, {fmt(sw['cpu1k'], 3)} CPU s per 1,000, "
                 f"{fmt(sw['rss'], 1)} MB"]
        for tool in TOOL_ORDER[1:]:
            m = med_of.get((n, w, tool))
            if m:
                parts.append(f"{tool} {ratio(m['rate'], sw['rate'])} the checks/s at "
                             f"{ratio(m['cpu1k'], sw['cpu1k'])} the CPU per check and "
                             f"{ratio(m['rss'], sw['rss'])} the memory")
        headline.append(f"- **Throughput**, {n:,} URLs, {w} workers: " + "; ".join(parts) + ".")


def precision(rows, out, targets, headline):
    if not rows:
        return
    cells = defaultdict(list)
    for r in rows:
        cells[(r["set"], r["tool"])].append(r)
    out.append("## 2. Schedule precision under load\n")
    out.append(
        "Arrival times come from nginx's log (`$msec − $request_time`, 1 ms resolution), not from "
        "the tools. Per monitor, each gap between consecutive arrivals is compared with the "
        "monitor's interval; every monitor's first gap is left out (sitewatch's first round is "
        "released at 1,000 checks/s and then joins its phase; a scraper's first scrape has an "
        "offset). *on time* = gaps of one interval (round(gap / interval) = 1): |gap − interval| "
        "percentiles in ms. *all gaps* p99 includes the gaps that span a missed occurrence. "
        "*missed* = occurrences that never arrived (a gap of k intervals misses k − 1; so does the "
        "stretch from a monitor's last arrival to the end of the run), as a share of all "
        "occurrences. *cores* = CPU seconds ÷ wall seconds (sitewatch; Prometheus + "
        "blackbox_exporter together). sitewatch's own lateness (start − due) is from its REPORT "
        "line every 10 s: median of the windows' p50 and p99, and the largest max. The hanging "
        "and failing URLs are load, not measured: a failing monitor is retried and backed off by "
        "sitewatch, by design.\n"
    )
    header = ["monitors", "tool", "runs", "gaps", "on time p50 ms", "p99 ms", "max ms",
              "all gaps p99 ms", "missed", "missed %", "cores", "RSS MB", "own lateness p50/p99/max ms",
              "nginx cores", "others' cores", "load (max)"]
    body = []
    names = {"mixed": "9,980 at 5–60 s + 10 hang + 10 fail", "every10s": "10,000 every 10 s"}
    summary = {}
    for set_ in ("every10s", "mixed"):
        for tool in ("sitewatch", "prometheus"):
            rs = cells.get((set_, tool))
            if not rs:
                continue
            g = [r["gaps"] for r in rs]
            own = "–"
            if tool == "sitewatch":
                p50s, p99s, maxes = [], [], []
                for r in rs:
                    reps = [x for x in (r["own"] or {}).get("reports", []) if x]
                    if reps:
                        p50s.append(med([x["p50"] for x in reps]))
                        p99s.append(med([x["p99"] for x in reps]))
                        maxes.append(max(x["max"] for x in reps))
                own = f"{fmt(med(p50s), 1)} / {fmt(med(p99s), 1)} / {fmt(med(maxes), 0)}"
            m = {
                "p50": med([x["dev_on_time_ms"]["p50"] for x in g]),
                "p99": med([x["dev_on_time_ms"]["p99"] for x in g]),
                "max": med([x["dev_on_time_ms"]["max"] for x in g]),
                "allp99": med([x["dev_all_ms"]["p99"] for x in g]),
                "missed": med([x["missed"] for x in g]),
                "missed_pct": med([x["missed_pct"] for x in g]),
                "cores": med([r["cpu_s"] / r["wall_s"] for r in rs]),
                "rss": med([r["rss_kb"] / 1024 for r in rs]),
                "nginx": med([r["nginx_cpu_s"] / r["wall_s"] for r in rs]),
                "others": med([r["others_cpu_s"] / r["wall_s"] for r in rs if "others_cpu_s" in r]),
            }
            summary[(set_, tool)] = m
            body.append([
                names.get(set_, set_), tool, len(rs), fmt(med([x["gaps"] for x in g]), 0),
                fmt(m["p50"], 0), fmt(m["p99"], 0), fmt(m["max"], 0), fmt(m["allp99"], 0),
                fmt(m["missed"], 0), fmt(m["missed_pct"], 2), fmt(m["cores"], 2), fmt(m["rss"], 0),
                own, fmt(m["nginx"], 2), fmt(m["others"], 2), load_cell(rs),
            ])
    out.append(table(header, body) + "\n")
    secs = sorted({(r["set"], r["secs"]) for r in rows})
    out.append("Run lengths: " + ", ".join(f"{names.get(s, s)}: {t} s" for s, t in secs) + ".\n")
    sw = summary.get(("every10s", "sitewatch"))
    if sw:
        ok = sw["p99"] is not None and sw["p99"] <= 10 and sw["missed"] == 0 and sw["cores"] < 1 / 3
        targets.append(
            f"- Precision (10,000 every 10 s): p99 |gap − interval| {fmt(sw['p99'], 0)} ms (target "
            f"≤ 10), missed {fmt(sw['missed'], 0)} (target 0), {fmt(sw['cores'], 2)} of a core "
            f"(target < 0.33): **{'met' if ok else 'missed'}**."
        )
        pr = summary.get(("every10s", "prometheus"))
        line = (f"- **Precision**, 10,000 monitors every 10 s: sitewatch p50/p99 deviation "
                f"{fmt(sw['p50'], 0)}/{fmt(sw['p99'], 0)} ms, {fmt(sw['missed_pct'], 2)} % missed, "
                f"{fmt(sw['cores'], 2)} of a core")
        if pr:
            line += (f"; Prometheus + blackbox_exporter {fmt(pr['p50'], 0)}/{fmt(pr['p99'], 0)} ms, "
                     f"{fmt(pr['missed_pct'], 2)} % missed, {fmt(pr['cores'], 2)} of a core")
        headline.append(line + ".")
    mx = summary.get(("mixed", "sitewatch"))
    pm = summary.get(("mixed", "prometheus"))
    if mx:
        line = (f"- **Precision**, 9,980 monitors at 5–60 s with hanging and failing URLs: sitewatch "
                f"p99 {fmt(mx['p99'], 0)} ms, {fmt(mx['missed_pct'], 2)} % missed")
        if pm:
            line += f"; Prometheus + blackbox_exporter p99 {fmt(pm['p99'], 0)} ms, {fmt(pm['missed_pct'], 2)} % missed"
        headline.append(line + ".")


def overload(rows, out, targets, headline):
    if not rows:
        return
    r0 = rows[0]
    out.append("## 3. Overload\n")
    out.append(
        f"{r0['workers']} workers, {r0['n']:,} monitors every {r0['interval_s']} s "
        f"({r0['n'] / r0['interval_s']:,.0f} checks/s due), {r0['secs']} s per run. *RSS* sampled "
        "every 5 s: at the first sample, at the last, and the peak. *per-monitor checks* from the "
        "arrival log (min / p1 / median / p99 / max; *never* = monitors not checked at all). "
        "*coalesced* = occurrences skipped because the monitor's previous check was still queued "
        "or running; *overflowed* = due checks that waited in the overflow FIFO because the queue "
        "was full (sitewatch's summary).\n"
    )
    header = ["run", "checks/s served", "RSS first / last / peak MB", "per-monitor checks min/p1/p50/p99/max",
              "never", "coalesced", "overflowed", "missed", "cores", "load"]
    body = []
    growth = []
    for r in rows:
        c = r["counts"]
        s = r["summary"] or {}
        samples = r["rss_samples"]
        first = samples[0][1] / 1024 if samples else None
        last = samples[-1][1] / 1024 if samples else None
        if samples and len(samples) > 2:
            growth.append(samples[-1][1] / 1024 - samples[1][1] / 1024)
        body.append([
            r["run"], fmt(c["requests"] / r["secs"], 0),
            f"{fmt(first, 1)} / {fmt(last, 1)} / {fmt(r['maxrss_kb'] / 1024, 1)}",
            f"{c['min']} / {c['p1']} / {c['p50']} / {c['p99']} / {c['max']}", c["never_requested"],
            fmt(s.get("coalesced"), 0), fmt(s.get("overflowed"), 0), fmt(s.get("missed"), 0),
            fmt((r["user_s"] + r["sys_s"]) / r["wall_s"], 2), r["load1"],
        ])
    out.append(table(header, body) + "\n")
    if rows:
        mid = rows[len(rows) // 2]
        samples = " ".join(f"{t:.0f}s:{kb / 1024:.1f}" for t, kb in mid["rss_samples"])
        out.append(f"RSS over time, run {mid['run']} (s since start: MB): {samples}\n")
    never = max(r["counts"]["never_requested"] for r in rows)
    served = med([r["counts"]["requests"] / r["secs"] for r in rows])
    spread = max(r["counts"]["max"] - r["counts"]["min"] for r in rows)
    headline.append(
        f"- **Overload** ({r0['workers']} workers, {r0['n']:,} monitors every {r0['interval_s']} s, "
        f"{r0['n'] / r0['interval_s']:,.0f} checks/s due): {fmt(served, 0)} checks/s served; "
        f"memory flat (RSS growth after the first 10 s: median {fmt(med(growth), 1)} MB); "
        f"monitors never checked: {never}; per-monitor check counts differ by at most {spread}; "
        f"the rest coalesced (median {fmt(med([(r['summary'] or {}).get('coalesced') for r in rows]), 0)} per run)."
    )


def scale(rows, out, targets, headline):
    if not rows:
        return
    big = [r for r in rows if r["which"] == "big"]
    small = [r for r in rows if r["which"] == "small"]
    steady = [r for r in rows if r["which"] == "steady"]
    out.append("## 4. Scale of the list\n")
    out.append(
        "Monitors at 1 h intervals, all pointing at nginx, 16 workers. *start-up* = exec to the "
        "first check line on stdout (config read and validated, schedule built, threads started, "
        "first check done). *RSS* 5 s after start-up, and the peak. *bytes/monitor* = (RSS of "
        "the big list − RSS of 1,000 monitors) ÷ the difference in monitors. *scheduler CPU* = "
        "the scheduler thread's CPU (from /proc) ÷ the window, from 10 s after start to the end: "
        "during the window it releases the first round at 1,000 checks/s (a list this long is "
        "never idle: after the first round 1 M / 3,600 s = 278 checks/s are due), so this is an "
        "upper bound for the idle cost; the whole process's CPU (workers doing 1,000 HTTP "
        "checks/s) is next to it. Two smaller lists give the other ends: 1,000 monitors at 1 h "
        "are truly idle after their first second (nothing is due for half an hour), and 2,780 "
        "monitors every 10 s release 278 checks/s, the steady rate of a million at 1 h (the "
        "wheel's own cost hardly depends on the list's length, see section 5).\n"
    )
    header = ["monitors", "runs", "start-up s", "RSS MB", "peak RSS MB", "bytes/monitor",
              "scheduler CPU % of a core", "process cores", "load (max)"]
    body = []
    meds = {}
    labels = {"small": "at 1 h", "big": "at 1 h", "steady": "at 10 s (278 checks/s)"}
    for name, rs in (("small", small), ("big", big), ("steady", steady)):
        if not rs:
            continue
        m = {
            "startup": med([r["startup_s"] for r in rs]),
            "rss": med([r["rss5_kb"] / 1024 for r in rs]),
            "peak": med([r["maxrss_kb"] / 1024 for r in rs]),
            "sched": med([100 * r["sched_cpu_s"] / r["window_s"] for r in rs]),
            "proc": med([r["proc_cpu_s"] / r["window_s"] for r in rs]),
            "n": rs[0]["n"],
        }
        meds[name] = m
    bpm = None
    if "small" in meds and "big" in meds:
        bpm = (meds["big"]["rss"] - meds["small"]["rss"]) * 1024 * 1024 / (meds["big"]["n"] - meds["small"]["n"])
    for name, rs in (("small", small), ("big", big), ("steady", steady)):
        if name not in meds:
            continue
        m = meds[name]
        body.append([f"{m['n']:,} {labels[name]}", len(rs), fmt(m["startup"], 2), fmt(m["rss"], 1), fmt(m["peak"], 1),
                     fmt(bpm, 0) if name == "big" else "–", fmt(m["sched"], 2), fmt(m["proc"], 2),
                     load_cell(rs)])
    out.append(table(header, body) + "\n")
    if "big" in meds:
        b = meds["big"]
        met = lambda ok: "**met**" if ok else "**missed**"  # noqa: E731
        targets.append(
            f"- Scale ({b['n']:,} monitors at 1 h): peak RSS {fmt(b['peak'], 0)} MB, "
            f"{fmt(b['rss'], 0)} MB after start-up (target ≤ 300): {met(b['peak'] <= 300)}; "
            f"start-up {fmt(b['startup'], 2)} s (target ≤ 3): {met(b['startup'] <= 3)}."
        )
        idle = meds.get("small", {}).get("sched")
        st = meds.get("steady", {}).get("sched")
        parts = [f"{fmt(b['sched'], 2)} % of a core while releasing the first round of "
                 f"{b['n']:,} monitors at 1,000 checks/s"]
        if st is not None:
            parts.append(f"{fmt(st, 2)} % at 278 checks/s, the steady rate of a million at 1 h")
        if idle is not None:
            parts.append(f"{fmt(idle, 2)} % with nothing due")
        ok = (st if st is not None else b["sched"]) <= 1
        targets.append(f"- Idle scheduler (target ≤ 1 % of a core): " + "; ".join(parts) +
                       f": {met(ok)} for the steady state and idle, not during the first round.")
        headline.append(
            f"- **Scale**, {b['n']:,} monitors: start-up {fmt(b['startup'], 2)} s, RSS "
            f"{fmt(b['rss'], 0)} MB (peak {fmt(b['peak'], 0)} MB, {fmt(bpm, 0)} bytes per monitor), "
            f"scheduler thread {fmt(b['sched'], 2)} % of a core."
        )


def wheel(w, out, targets, headline):
    if not w:
        return
    out.append("## 5. The timing wheel alone\n")
    out.append(
        "`cargo run --release --example wheel_bench` (plain harness; CPU time of the thread from "
        "/proc/thread-self/schedstat, median of the repeats). *insert*: 1 M entries with dues "
        "uniform over 1 s – 1 h into an empty wheel (wall time: a few ms, too short for that "
        "clock); *drain*: advance 1 ms at a time until all "
        "have fired; *recurring*: the scheduler's steady state, each entry re-inserted one interval "
        "after it fires, 1 ms steps (as if the scheduler woke every millisecond).\n"
    )
    header = ["entries", "insert ns", "drain ns/expiry", "recurring 1 s–1 h ns/(expiry+insert)",
              "… CPU ms per s", "recurring all 1 h ns/(expiry+insert)", "… CPU ms per s",
              "slab MB", "load"]
    out.append(table(header, [[
        f"{w['entries']:,}", fmt(w["insert_ns"], 1), fmt(w["drain_ns_per_expiry"], 1),
        fmt(w["recurring_mixed_ns"], 1), fmt(w["recurring_mixed_cpu_ms_per_s"], 3),
        fmt(w["recurring_hour_ns"], 1), fmt(w["recurring_hour_cpu_ms_per_s"], 3),
        fmt(w["slab_bytes"] / 1e6, 1), w.get("load1", "–"),
    ]]) + "\n")
    headline.append(
        f"- **Wheel**, 1 M entries: insert {fmt(w['insert_ns'], 1)} ns, expiry + re-insert "
        f"{fmt(w['recurring_mixed_ns'], 0)} ns; 1 M monitors at 1 h cost the wheel "
        f"{fmt(w['recurring_hour_cpu_ms_per_s'], 3)} ms of CPU per second."
    )


def footprint(rows, out, targets, headline):
    """Section 6: peak RSS per worker (scripts/bench/footprint.sh, scenario footprint)."""
    if not rows:
        return
    labels = list(dict.fromkeys(r["label"] for r in rows))
    out.append("## 6. Memory per check in flight\n")
    out.append(
        "`sitewatch --once --no-db -w W --format json` over the same 20,000 local URLs on nginx, "
        "plain HTTP and HTTPS (a certificate from a throw-away CA trusted through `ca_file`), and "
        "*gzip*: plain HTTP to a 20 KB page nginx sends gzip-compressed, as most sites do; "
        "*peak RSS* from `/usr/bin/time -f %M` (median of the runs). With 20,000 URLs every "
        "worker has a check in flight at the peak, so *per worker* = (peak RSS at W − peak RSS "
        "at 64) ÷ (W − 64): what one more check in flight costs (its thread's stack, its "
        "connection's buffers, TLS state). Builds compared in the same rounds: "
        + ", ".join(f"*{l}*" for l in labels) + ".\n"
    )
    body = []
    best = {}
    protos = [p for p in ("http", "https", "gzip") if any(r["proto"] == p for r in rows)]
    for proto in protos:
        for label in labels:
            cells = {}
            for r in rows:
                if r["proto"] == proto and r["label"] == label and r.get("checked", 0) > 0:
                    cells.setdefault(r["workers"], []).append(r)
            base = cells.get(min(cells)) if cells else None
            base_kb = med([r["maxrss_kb"] for r in base]) if base else None
            for w in sorted(cells):
                rs = cells[w]
                kb = med([r["maxrss_kb"] for r in rs])
                per = None
                if base_kb is not None and w != min(cells):
                    per = (kb - base_kb) / (w - min(cells))
                    best[(proto, label, w)] = per
                body.append([proto.upper(), label, f"{w:,}", len(rs), fmt(kb / 1024),
                             fmt(per) if per is not None else "–",
                             fmt(med([r["wall_s"] for r in rs]), 2), load_cell(rs)])
    out.append(table(["protocol", "build", "workers", "runs", "peak RSS MiB", "per worker KiB",
                      "wall s", "load"], body) + "\n")
    last = labels[-1]
    figures = [f"{p.upper()} {fmt(v)} KiB at {w:,}" for (p, l, w), v in sorted(best.items()) if l == last]
    if figures:
        headline.append(f"- **Memory per check in flight** ({last}): " + ", ".join(figures) + ".")
        worst = max(v for (p, l, w), v in best.items() if l == last and p != "gzip")
        targets.append(
            f"- Memory per check in flight (target ≤ 32 KiB per worker at 2,048 and 10,000 workers, "
            f"HTTP and HTTPS): at most {fmt(worst)} KiB: **{'met' if worst <= 32 else 'missed'}**."
        )


def kernel(rows, out, targets, headline):
    """Section 7: --once rate next to wrk (scripts/bench/footprint.sh, scenario kernel)."""
    if not rows:
        return
    runs = sorted({r["run"] for r in rows})
    labels = list(dict.fromkeys(r["tool"] for r in rows if r["tool"] != "wrk"))
    out.append("## 7. Closer to the kernel's limit: the rate next to wrk\n")
    out.append(
        "20,000 local URLs, 64 workers, plain HTTP, a fresh connection per check. In each round "
        "`wrk -t 2 -c 64 -d 5s -H 'Connection: close'` (a C event loop that only connects, sends "
        "one fixed request, reads the answer and closes) runs against the same nginx, then each "
        "build of `sitewatch --once --no-db -w 64 --format json`; *share of wrk* = sitewatch's "
        "checks/s (URLs ÷ wall time, start-up and output included) ÷ wrk's requests/s in the same "
        "round, median over the rounds.\n"
    )
    body = []
    wrk = [r for r in rows if r["tool"] == "wrk"]
    body.append(["wrk", len(wrk), fmt(med([r["rate"] for r in wrk]), 0), "1", "–", "–",
                 load_cell(wrk)])
    shares = {}
    for label in labels:
        rs = [r for r in rows if r["tool"] == label]
        share = []
        for run in runs:
            w = [r["rate"] for r in wrk if r["run"] == run]
            t = [r["rate"] for r in rs if r["run"] == run]
            if w and t and w[0]:
                share.append(t[0] / w[0])
        shares[label] = med(share)
        body.append([label, len(rs), fmt(med([r["rate"] for r in rs]), 0),
                     fmt(shares[label], 2), fmt(med([r["user_s"] + r["sys_s"] for r in rs]), 2),
                     fmt(med([r["maxrss_kb"] for r in rs]) / 1024), load_cell(rs)])
    out.append(table(["tool", "runs", "checks/s", "share of wrk", "CPU s", "peak RSS MiB",
                      "load"], body) + "\n")
    last = labels[-1] if labels else None
    if last and shares.get(last) is not None:
        headline.append(f"- **Next to wrk** (20,000 URLs, 64 workers, fresh connections): "
                        f"{last} at {shares[last]:.2f} of wrk's rate.")
        targets.append(f"- Rate next to `wrk -H 'Connection: close'` (target ≥ 0.7 with 64 "
                       f"workers): {shares[last]:.2f}: **{'met' if shares[last] >= 0.7 else 'missed'}**.")


def main():
    results, dest = sys.argv[1], sys.argv[2]
    machine = {}
    if os.path.exists(os.path.join(results, "machine.json")):
        with open(os.path.join(results, "machine.json")) as f:
            machine = json.load(f)
    sections, targets, headline = [], [], []
    throughput(load_jsonl(os.path.join(results, "throughput.jsonl")), sections, targets, headline)
    precision(load_jsonl(os.path.join(results, "precision.jsonl")), sections, targets, headline)
    overload(load_jsonl(os.path.join(results, "overload.jsonl")), sections, targets, headline)
    scale(load_jsonl(os.path.join(results, "scale.jsonl")), sections, targets, headline)
    wpath = os.path.join(results, "wheel.json")
    w = None
    if os.path.exists(wpath):
        with open(wpath) as f:
            w = json.load(f)
    wheel(w, sections, targets, headline)
    footprint(load_jsonl(os.path.join(results, "footprint.jsonl")), sections, targets, headline)
    kernel(load_jsonl(os.path.join(results, "kernel.jsonl")), sections, targets, headline)
    wan.section(results, sections, headline)

    doc = ["# Benchmarks\n"]
    doc.append(
        "Measured by `scripts/bench.sh` (one command; it installs nginx, Prometheus, "
        "blackbox_exporter, `time` and curl from Debian and lychee from crates.io if missing, "
        "builds sitewatch in release mode, runs every scenario on 127.0.0.1 only, and rewrites "
        "this file from `target/bench/results/`). Figures are medians of the runs of each cell; "
        "the load average (1 minute) is the one when the cell's runs started.\n"
    )
    if machine:
        doc.append(table(["", ""], [
            ["date (UTC)", machine.get("date")],
            ["CPU", f"{machine.get('nproc')} × {machine.get('cpu')}"],
            ["memory", machine.get("mem")],
            ["kernel", machine.get("kernel")],
            ["rustc", machine.get("rustc")],
            ["sitewatch", machine.get("sitewatch_commit")],
            ["nginx", machine.get("nginx")],
            ["lychee", machine.get("lychee")],
            ["curl", machine.get("curl")],
            ["Prometheus / blackbox_exporter", f"{machine.get('prometheus')} / {machine.get('blackbox')}"],
            ["ephemeral ports, tcp_tw_reuse, open files",
             f"{machine.get('port_range')}, {machine.get('tcp_tw_reuse')}, {machine.get('nofile')}"],
        ]) + "\n")
    doc.append("## Rerun\n")
    doc.append(
        "```sh\nscripts/bench.sh                        # everything, about an hour on 2 cores\n"
        "scripts/bench.sh throughput scale       # some scenarios (then this file is rewritten "
        "from all results present)\nBENCH_RUNS=5 scripts/bench.sh precision  # more runs per cell\n"
        "scripts/bench.sh report                 # only rewrite this file\n```\n"
        "The exact command lines of every tool are in `scripts/bench/*.sh` (one file per "
        "scenario, each explaining what it measures).\n"
    )
    if headline:
        doc.append("## Headline\n")
        doc.append("\n".join(headline) + "\n")
    if targets:
        doc.append("## Targets\n")
        doc.append("\n".join(targets) + "\n")
    doc.extend(sections)
    analysis = os.path.join(HERE, "analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as f:
            doc.append(f.read().rstrip() + "\n")
    with open(dest, "w") as f:
        f.write("\n".join(doc))


if __name__ == "__main__":
    main()
