#!/usr/bin/env python3
"""Writes the benchmark's URL lists and configs (stdlib only). Loopback bases only.

usage:
  gen.py list BASE N OUTDIR NAME [--interval 60s] [--ca-file PEM]
      NAME.json (sitewatch config, N URLs /ok/0 .. /ok/N-1) and NAME.txt (one URL a line).
  gen.py monitors BASE OUTDIR --ok N --intervals 5,10,15,20,30,60 [--hang H] [--fail F]
                  [--hang-interval 10] [--fail-interval 10] [--timeout 5] [--bb-port P]
      monitors.json: sitewatch config; interval i-th of the list for /ok/i (cycled);
      plan.json: {uri: [interval_s, kind]} for analyze.py;
      prometheus.yml and blackbox.yml (when --bb-port is given): the same targets and
      intervals as Prometheus scrape jobs through blackbox_exporter.
"""
import argparse
import json
import os
import sys
from urllib.parse import urlparse


def check_base(base):
    host = urlparse(base).hostname or ""
    if not host.startswith("127."):
        sys.exit("refusing a non-loopback base: " + base)
    return base.rstrip("/")


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, separators=(",", ":"))
        f.write("\n")


def cmd_list(a):
    base = check_base(a.base)
    os.makedirs(a.outdir, exist_ok=True)
    urls = [f"{base}/{a.path}/{i}" for i in range(a.n)]
    defaults = {"interval": a.interval}
    if a.ca_file:
        defaults["ca_file"] = a.ca_file
    write_json(
        os.path.join(a.outdir, a.name + ".json"),
        {"defaults": defaults, "urls": [{"url": u} for u in urls]},
    )
    with open(os.path.join(a.outdir, a.name + ".txt"), "w") as f:
        f.write("\n".join(urls) + "\n")


def cmd_monitors(a):
    base = check_base(a.base)
    os.makedirs(a.outdir, exist_ok=True)
    intervals = [int(x) for x in a.intervals.split(",")]
    entries, plan = [], {}
    for i in range(a.ok):
        iv = intervals[i % len(intervals)]
        entries.append((f"/ok/{i}", iv, "ok"))
    for i in range(a.hang):
        entries.append((f"/hang/{i}", a.hang_interval, "hang"))
    for i in range(a.fail):
        entries.append((f"/fail/{i}", a.fail_interval, "fail"))
    urls = []
    for uri, iv, kind in entries:
        plan[uri] = [iv, kind]
        urls.append({"url": base + uri, "interval": iv})
    write_json(
        os.path.join(a.outdir, "monitors.json"),
        {"defaults": {"timeout": f"{a.timeout}s"}, "urls": urls},
    )
    write_json(os.path.join(a.outdir, "plan.json"), plan)
    if a.bb_port:
        by_interval = {}
        for uri, iv, _ in entries:
            by_interval.setdefault(iv, []).append(base + uri)
        jobs = []
        for iv in sorted(by_interval):
            jobs.append(
                {
                    "job_name": f"probe_{iv}s",
                    "scrape_interval": f"{iv}s",
                    "scrape_timeout": f"{min(iv, a.timeout)}s",
                    "metrics_path": "/probe",
                    "params": {"module": ["http_2xx"]},
                    "static_configs": [{"targets": by_interval[iv]}],
                    "relabel_configs": [
                        {"source_labels": ["__address__"], "target_label": "__param_target"},
                        {"source_labels": ["__param_target"], "target_label": "instance"},
                        {"target_label": "__address__", "replacement": f"127.0.0.1:{a.bb_port}"},
                    ],
                }
            )
        # JSON is YAML: Prometheus and blackbox_exporter read these as they are.
        write_json(
            os.path.join(a.outdir, "prometheus.yml"),
            {"global": {"evaluation_interval": "1h"}, "scrape_configs": jobs},
        )
        write_json(
            os.path.join(a.outdir, "blackbox.yml"),
            {
                "modules": {
                    "http_2xx": {
                        "prober": "http",
                        "timeout": f"{a.timeout}s",
                        "http": {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": False},
                    }
                }
            },
        )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("list")
    l.add_argument("base")
    l.add_argument("n", type=int)
    l.add_argument("outdir")
    l.add_argument("name")
    l.add_argument("--interval", default="60s")
    l.add_argument("--path", default="ok", help="first path segment of every URL (ok, page, …)")
    l.add_argument("--ca-file", help="trust this PEM certificate (an https base with a self-signed one)")
    l.set_defaults(func=cmd_list)
    m = sub.add_parser("monitors")
    m.add_argument("base")
    m.add_argument("outdir")
    m.add_argument("--ok", type=int, required=True)
    m.add_argument("--intervals", required=True)
    m.add_argument("--hang", type=int, default=0)
    m.add_argument("--fail", type=int, default=0)
    m.add_argument("--hang-interval", type=int, default=10)
    m.add_argument("--fail-interval", type=int, default=10)
    m.add_argument("--timeout", type=int, default=5)
    m.add_argument("--bb-port", type=int, default=0)
    m.set_defaults(func=cmd_monitors)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
