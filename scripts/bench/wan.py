#!/usr/bin/env python3
"""The WAN-shaped benchmark's list and its analysis (stdlib only). Loopback only.

usage:
  wan.py gen PORT HOSTS OUTDIR --n N [--interval 60] [--timeout 10] [--seed 16] [--bb-port P]
      Draws N monitors for examples/latency_site.rs listening on 127.0.0.1 … 127.0.0.HOSTS:PORT
      (monitor i on 127.0.0.(1 + i mod HOSTS)): 96 % healthy, answering 200 after a fixed delay
      drawn from a log-normal distribution (median 80 ms, p99 1 s, clipped at 9 s so it stays
      under the timeout); 2 % that accept and never answer; 1 % refused (127.0.0.254:PORT, where
      nobody listens); 1 % answering 503 after a delay drawn the same way. The delay is in the
      URL (/ok/<i>/<ms>), so it is fixed per URL and the server needs no table.
      Writes monitors.json (sitewatch), plan.json ({path: [interval_s, kind, delay_ms]}),
      and with --bb-port prometheus.yml + blackbox.yml (the same targets, interval and timeout;
      Prometheus keeps only probe_success, probe_duration_seconds and probe_http_status_code of
      each probe, what sitewatch's history keeps, so its memory stays within the machine's).
  wan.py analyze LOG PLAN.json START END [--settle 60]
      From the latency site's arrival log (`<unix s> <path>` per request), over the run
      [START, END] (Unix seconds), for the healthy monitors: checks made vs due over the whole
      run (due = monitors × run ÷ interval: each monitor is due once per interval from its
      phase in the first interval); monitors never checked; when each was first checked
      (p50/p99/max s after START: a new list's first round); and in the steady window
      [START + settle, END]: missed occurrences (a gap of k intervals misses k − 1, and so does
      the stretch from a monitor's last arrival to END) and |gap − interval| over the gaps of
      one interval (p50/p99/max, ms). Each monitor's first gap is left out (a short list's first
      round is released at once, then each monitor joins its phase; a list of 60,000 or more at
      60 s starts on its phases). Requests of the failing kinds are counted apart: they are load,
      and sitewatch retries and backs them off by design. Prints JSON.
  wan.py section RESULTS_DIR
      Prints the headline line and the BENCHMARKS.md section made from RESULTS_DIR/wan.jsonl
      (report.py includes the same section when it rewrites the whole file).
"""
import argparse
import json
import math
import os
import random
from collections import defaultdict

MEDIAN_MS = 80.0
P99_MS = 1000.0
Z99 = 2.3263478740408408
CLIP_MS = 9000


def draw_delay(rng):
    sigma = math.log(P99_MS / MEDIAN_MS) / Z99
    return min(CLIP_MS, int(round(rng.lognormvariate(math.log(MEDIAN_MS), sigma))))


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, separators=(",", ":"))
        f.write("\n")


def cmd_gen(a):
    os.makedirs(a.outdir, exist_ok=True)
    rng = random.Random(a.seed)
    urls, plan, delays = [], {}, []
    for i in range(a.n):
        r = rng.random()
        host = f"127.0.0.{1 + i % a.hosts}"
        if r < 0.02:
            kind, path, d = "hang", f"/hang/{i}", None
        elif r < 0.03:
            kind, path, d = "refused", f"/refused/{i}", None
            host = "127.0.0.254"
        elif r < 0.04:
            d = draw_delay(rng)
            kind, path = "fail", f"/fail/{i}/{d}"
        else:
            d = draw_delay(rng)
            kind, path = "ok", f"/ok/{i}/{d}"
            delays.append(d)
        url = f"http://{host}:{a.port}{path}"
        urls.append(url)
        plan[path] = [a.interval, kind, d]
    write_json(
        os.path.join(a.outdir, "monitors.json"),
        {"defaults": {"interval": a.interval, "timeout": f"{a.timeout}s"},
         "urls": [{"url": u} for u in urls]},
    )
    write_json(os.path.join(a.outdir, "plan.json"), plan)
    delays.sort()
    kinds = defaultdict(int)
    for v in plan.values():
        kinds[v[1]] += 1
    summary = {
        "monitors": a.n,
        "kinds": dict(kinds),
        "delay_ms": {p: delays[min(len(delays) - 1, int(len(delays) * p / 100))] for p in (50, 90, 99)},
        "mean_delay_ms": round(sum(delays) / max(1, len(delays)), 1),
    }
    write_json(os.path.join(a.outdir, "list.json"), summary)
    if a.bb_port:
        keep = "probe_success|probe_duration_seconds|probe_http_status_code"
        job = {
            "job_name": "wan",
            "scrape_interval": f"{a.interval}s",
            "scrape_timeout": f"{a.timeout}s",
            "metrics_path": "/probe",
            "params": {"module": ["http_2xx"]},
            "static_configs": [{"targets": urls}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": f"127.0.0.1:{a.bb_port}"},
            ],
            "metric_relabel_configs": [
                {"source_labels": ["__name__"], "regex": keep, "action": "keep"},
            ],
        }
        # JSON is YAML: Prometheus and blackbox_exporter read these as they are.
        write_json(
            os.path.join(a.outdir, "prometheus.yml"),
            {"global": {"evaluation_interval": "1h"}, "scrape_configs": [job]},
        )
        write_json(
            os.path.join(a.outdir, "blackbox.yml"),
            {"modules": {"http_2xx": {
                "prober": "http",
                "timeout": f"{a.timeout}s",
                "http": {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": False},
            }}},
        )
    print(json.dumps(summary))


def pct(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return round(sorted_values[k], 1)


def cmd_analyze(a):
    with open(a.plan) as f:
        plan = json.load(f)
    times = defaultdict(list)
    unknown = 0
    with open(a.log) as f:
        for line in f:
            try:
                t, path = line.split(" ", 1)
                t = float(t)
            except ValueError:
                continue
            if t < a.start or t > a.end:
                continue
            path = path.strip()
            if path not in plan:
                unknown += 1
                continue
            times[path].append(t)
    run = a.end - a.start
    steady = a.start + a.settle
    on_time, every, first = [], [], []
    made = 0
    due = 0.0
    missed = never = 0
    by_kind = defaultdict(lambda: {"monitors": 0, "requests": 0})
    for path, (interval, kind, _d) in plan.items():
        ts = sorted(times.get(path, []))
        by_kind[kind]["monitors"] += 1
        by_kind[kind]["requests"] += len(ts)
        if kind != "ok":
            continue
        due += run / interval
        made += len(ts)
        if not ts:
            never += 1
            continue
        first.append(ts[0] - a.start)
        # A monitor's first gap is left out: a short list's first round is released at once
        # and each monitor then joins its phase (half an interval to an interval and a half).
        for x, y in zip(ts[1:], ts[2:]):
            if y < steady:
                continue
            g = y - x
            k = max(1, round(g / interval))
            missed += k - 1
            dev = abs(g - interval) * 1000.0
            every.append(dev)
            if k == 1:
                on_time.append(dev)
        k = round((a.end - ts[-1]) / interval)
        if k > 1:
            missed += k - 1
    on_time.sort()
    every.sort()
    first.sort()
    out = {
        "run_s": round(run, 1),
        "healthy": by_kind["ok"]["monitors"],
        "due": round(due),
        "made": made,
        "made_pct": round(100.0 * made / due, 2) if due else None,
        "never": never,
        "first_check_s": {"p50": pct(first, 50), "p99": pct(first, 99),
                          "max": round(first[-1], 1) if first else None},
        "missed_steady": missed,
        "gaps": len(every),
        "dev_on_time_ms": {"p50": pct(on_time, 50), "p99": pct(on_time, 99),
                           "max": round(on_time[-1], 1) if on_time else None},
        "dev_all_p99_ms": pct(every, 99),
        "by_kind": by_kind,
        "unknown_requests": unknown,
    }
    print(json.dumps(out))


def section(results, out, headline):
    """Appends the WAN-shaped section of BENCHMARKS.md to `out` (a list of Markdown blocks)
    and its headline to `headline`, from RESULTS/wan.jsonl; used by report.py."""
    path = os.path.join(results, "wan.jsonl")
    if not os.path.exists(path):
        return
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        return
    lst = {}
    if os.path.exists(os.path.join(results, "wan-list.json")):
        with open(os.path.join(results, "wan-list.json")) as f:
            lst = json.load(f)
    site = ""
    if os.path.exists(os.path.join(results, "wan-site.txt")):
        with open(os.path.join(results, "wan-site.txt")) as f:
            lines = [line.strip() for line in f if line.strip()]
            site = lines[-1] if lines else ""

    def f(v, d=1):
        if v is None:
            return "–"
        return f"{v:,.{d}f}"

    r0 = rows[0]
    n, secs = r0["n"], r0["secs"]
    kinds = lst.get("kinds", {})
    delays = lst.get("delay_ms", {})
    out.append("## 8. WAN-shaped: 100,000 slow, hanging and failing sites\n" if n == 100000 else
               f"## 8. WAN-shaped: {n:,} slow, hanging and failing sites\n")
    out.append(
        f"{n:,} monitors every 60 s, timeout 10 s, against `examples/latency_site.rs` on "
        "127.0.0.1–4 (one thread, `poll(2)`, answers held in a timer heap): "
        f"{kinds.get('ok', 0):,} answer 200 after a fixed per-URL delay drawn from a log-normal "
        f"distribution (median {delays.get('50', '–')} ms, p90 {delays.get('90', '–')} ms, p99 "
        f"{delays.get('99', '–')} ms, mean {lst.get('mean_delay_ms', '–')} ms as drawn), "
        f"{kinds.get('hang', 0):,} accept and never answer, {kinds.get('refused', 0):,} are refused "
        f"(nobody listens on that address), {kinds.get('fail', 0):,} answer 503 after a delay. "
        f"That is {n / 60:,.0f} checks due a second. Each tool runs alone for {secs} s "
        "(sitewatch with its history database on, as by default; a new list, so its first round "
        "is in the run). From the site's arrival log, for the healthy monitors: *due* = monitors × "
        "run ÷ 60 s; *made* = their checks that arrived; *never* = monitors not checked at all; "
        "*first check* = when each was first checked, s after the start (p50 / p99 / max); after "
        "the first minute: *missed* = occurrences that never arrived (a gap of k intervals misses "
        "k − 1, and so does the stretch from a monitor's last arrival to the end), *dev* = "
        "|gap − 60 s| over gaps of one interval (p50 / p99 / max). *cores* = CPU s ÷ wall s of the tool (Prometheus + "
        "blackbox_exporter together); *peak RSS* = VmHWM (both processes summed for Prometheus). "
        "*pool busy* = sitewatch's own minute reports: the pool's busy share in each, and when the "
        "last one is hot by today's rule (over 80 % busy, or a check waited 1 s for a worker) the "
        "`--workers` it suggests. *site* = the latency site's CPU (cores). *others' cores* = what "
        "other processes on the machine used meanwhile; *load* = the 1-minute load average at the "
        "start of the run.\n"
    )
    header = ["tool", "workers", "run", "due", "made", "made %", "never", "first check s", "missed",
              "dev ms", "cores", "peak RSS MB", "pool busy % by minute", "site cores",
              "others' cores", "load"]
    body = []
    rows.sort(key=lambda r: (r["tool"] != "sitewatch", r["workers"], r["run"]))
    best = prom = None
    for r in rows:
        g = r["gaps"]
        tool, w = r["tool"], r["workers"]
        span = r.get("span_s", r["wall_s"])
        pool = "–"
        reps = [p for p in (r.get("own") or {}).get("pool", []) if p] if tool == "sitewatch" else []
        if reps:
            pool = ", ".join(f(p["busy_pct"], 0) for p in reps)
            # Today's rule (pool_load.rs): hot above 80 % or when a check waited 1 s or more.
            last = reps[-1]
            if last["busy_pct"] > 80 or last["waited"] > 0:
                demand = max(last["busy_workers"], w) if last["waited"] > 0 else last["busy_workers"]
                pool += f"; hot: {math.ceil(demand / 0.7):,}"
        m = {
            "made_pct": g["made_pct"], "p99": g["dev_on_time_ms"]["p99"],
            "cores": r["cpu_s"] / r["wall_s"], "rss": r["rss_kb"] / 1024,
        }
        fc = g["first_check_s"]
        d = g["dev_on_time_ms"]
        body.append([
            "Prometheus + blackbox_exporter" if tool == "prometheus" else "sitewatch",
            f"{w:,}" if tool == "sitewatch" else "–", r["run"], f(g["due"], 0), f(g["made"], 0),
            f(g["made_pct"], 2), f(g["never"], 0),
            f"{f(fc['p50'], 0)} / {f(fc['p99'], 0)} / {f(fc['max'], 0)}", f(g["missed_steady"], 0),
            f"{f(d['p50'], 0)} / {f(d['p99'], 0)} / {f(d['max'], 0)}", f(m["cores"], 2),
            f(m["rss"], 0), pool, f(r["site_cpu_s"] / span, 2), f(r["others_cpu_s"] / span, 2),
            f(r["load1"], 2),
        ])
        # The headline takes the quietest run of the largest pool and of Prometheus.
        quiet = r["others_cpu_s"] / span
        if tool == "sitewatch":
            if best is None or (w, -quiet) > (best[0], -best[2]):
                best = (w, m, quiet)
        elif prom is None or quiet < prom[1]:
            prom = (m, quiet)
    out.append("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n" +
               "\n".join("| " + " | ".join(str(c) for c in row) + " |" for row in body) + "\n")
    if site:
        out.append(f"The latency site over the whole scenario: `{site}`.\n")
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wan-analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as fh:
            out.append(fh.read().rstrip() + "\n")
    if best:
        w, m, _ = best
        line = (f"- **WAN-shaped**, {n:,} monitors every 60 s (2 % never answer): sitewatch with "
                f"{w:,} workers made {f(m['made_pct'], 2)} % of the healthy checks due, p99 "
                f"|gap − interval| {f(m['p99'], 0)} ms, {f(m['cores'], 2)} cores, {f(m['rss'], 0)} MB")
        p = prom[0] if prom else None
        if p:
            line += (f"; Prometheus + blackbox_exporter {f(p['made_pct'], 2)} %, p99 {f(p['p99'], 0)} ms, "
                     f"{f(p['cores'], 2)} cores, {f(p['rss'], 0)} MB")
        headline.append(line + ".")


def cmd_section(a):
    out, headline = [], []
    section(a.results, out, headline)
    print("\n".join(headline))
    print()
    print("\n".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("port", type=int)
    g.add_argument("hosts", type=int)
    g.add_argument("outdir")
    g.add_argument("--n", type=int, required=True)
    g.add_argument("--interval", type=int, default=60)
    g.add_argument("--timeout", type=int, default=10)
    g.add_argument("--seed", type=int, default=16)
    g.add_argument("--bb-port", type=int, default=0)
    g.set_defaults(func=cmd_gen)
    n = sub.add_parser("analyze")
    n.add_argument("log")
    n.add_argument("plan")
    n.add_argument("start", type=float)
    n.add_argument("end", type=float)
    n.add_argument("--settle", type=float, default=60.0)
    n.set_defaults(func=cmd_analyze)
    r = sub.add_parser("section")
    r.add_argument("results")
    r.set_defaults(func=cmd_section)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
