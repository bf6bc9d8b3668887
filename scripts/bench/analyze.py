#!/usr/bin/env python3
"""Reads nginx's arrival log (see nginx-conf.sh) and measures what clients really did (stdlib only).

A log line: `$msec $request_time $status $connection $connection_requests "$request_uri" "$ua"`.
The arrival time of a request is $msec − $request_time (ms resolution). Only the byte range
[START, END) of the log is read, so one log serves many runs.

usage:
  analyze.py verify LOG START END LIST.txt
      Did the client request every URL of LIST.txt exactly once? Prints JSON: requests, distinct,
      missing, extra (requested more than once), unknown, statuses, fresh (requests that were
      the first on their connection), span_s (first arrival to last).
  analyze.py gaps LOG START END PLAN.json [--end EPOCH]
      Per monitor, the gaps between consecutive arrivals against the configured interval.
      The first gap of every monitor is left out (sitewatch's warm-up round; a scraper's first
      offset). A gap of k intervals (k = round(gap / interval)) counts k − 1 missed occurrences;
      so does the time from a monitor's last arrival to END (the end of the run). Deviation is
      |gap − interval| over the gaps of one interval ("on time") and over all gaps. Prints JSON.
  analyze.py counts LOG START END PLAN.json
      Per-monitor request counts (fairness under overload). Prints JSON.
"""
import json
import sys
from collections import Counter, defaultdict


def read(log, start, end):
    """Yields (arrival_s, status, fresh, uri, ua) for each complete line in [start, end)."""
    with open(log, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    for raw in data.split(b"\n"):
        if not raw:
            continue
        try:
            line = raw.decode("utf-8", "replace")
            msec, rtime, status, _conn, creq, rest = line.split(" ", 5)
            q2 = rest.index('"', 1)
            uri = rest[1:q2]
            ua = rest[q2 + 3 : -1]
            yield float(msec) - float(rtime), int(status), creq == "1", uri, ua
        except ValueError:
            continue


def pct(sorted_values, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def r1(x):
    return None if x is None else round(x, 1)


def stats_ms(values):
    v = sorted(values)
    return {
        "n": len(v),
        "p50": r1(pct(v, 50)),
        "p90": r1(pct(v, 90)),
        "p99": r1(pct(v, 99)),
        "p999": r1(pct(v, 99.9)),
        "max": r1(v[-1]) if v else None,
    }


def cmd_verify(log, start, end, listfile):
    with open(listfile) as f:
        wanted = [line.strip() for line in f if line.strip()]
    wanted_uris = Counter()
    for url in wanted:
        wanted_uris["/" + url.split("/", 3)[3]] += 1
    seen = Counter()
    statuses = Counter()
    fresh = 0
    first = last = None
    for t, status, is_fresh, uri, _ua in read(log, start, end):
        seen[uri] += 1
        statuses[status] += 1
        fresh += is_fresh
        first = t if first is None else min(first, t)
        last = t if last is None else max(last, t)
    missing = sum(1 for u in wanted_uris if u not in seen)
    extra = sum(c - wanted_uris[u] for u, c in seen.items() if u in wanted_uris and c > wanted_uris[u])
    unknown = sum(c for u, c in seen.items() if u not in wanted_uris)
    total = sum(seen.values())
    return {
        "wanted": len(wanted),
        "requests": total,
        "distinct": len(seen),
        "missing": missing,
        "extra": extra,
        "unknown": unknown,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "fresh": fresh,
        "span_s": round(last - first, 3) if first is not None else None,
        "every_url_once": missing == 0 and extra == 0 and unknown == 0,
    }


def by_monitor(log, start, end, plan):
    times = defaultdict(list)
    statuses = defaultdict(Counter)
    unknown = 0
    for t, status, _fresh, uri, _ua in read(log, start, end):
        if uri not in plan:
            unknown += 1
            continue
        times[uri].append(t)
        statuses[plan[uri][1]][status] += 1
    for v in times.values():
        v.sort()
    return times, statuses, unknown


def cmd_gaps(log, start, end, planfile, run_end):
    with open(planfile) as f:
        plan = json.load(f)
    times, statuses, unknown = by_monitor(log, start, end, plan)
    on_time, every, per_interval = [], [], defaultdict(list)
    gaps = missed = never = once_only = 0
    tail_missed = 0
    for uri, (interval, kind) in plan.items():
        if kind != "ok":
            continue
        ts = times.get(uri, [])
        if not ts:
            never += 1
            continue
        if len(ts) < 3:
            once_only += 1
        for a, b in zip(ts[1:], ts[2:]):
            g = b - a
            k = max(1, round(g / interval))
            dev = abs(g - interval) * 1000.0
            every.append(dev)
            gaps += 1
            missed += k - 1
            if k == 1:
                on_time.append(dev)
                per_interval[interval].append(dev)
        if run_end:
            k = round((run_end - ts[-1]) / interval)
            if k > 1:
                tail_missed += k - 1
    occurrences = gaps + missed + tail_missed
    out = {
        "monitors_ok": sum(1 for v in plan.values() if v[1] == "ok"),
        "requests": sum(len(v) for v in times.values()),
        "gaps": gaps,
        "dev_on_time_ms": stats_ms(on_time),
        "dev_all_ms": stats_ms(every),
        "dev_by_interval_p99_ms": {
            str(k): r1(pct(sorted(v), 99)) for k, v in sorted(per_interval.items())
        },
        "missed": missed + tail_missed,
        "missed_in_gaps": missed,
        "missed_at_end": tail_missed,
        "missed_pct": round(100.0 * (missed + tail_missed) / occurrences, 3) if occurrences else None,
        "never_requested": never,
        "fewer_than_3_requests": once_only,
        "unknown_requests": unknown,
        "statuses_by_kind": {k: {str(s): n for s, n in sorted(c.items())} for k, c in statuses.items()},
    }
    for kind in ("hang", "fail"):
        out[f"{kind}_requests"] = sum(len(times.get(u, [])) for u, v in plan.items() if v[1] == kind)
    return out


def cmd_counts(log, start, end, planfile):
    with open(planfile) as f:
        plan = json.load(f)
    times, statuses, unknown = by_monitor(log, start, end, plan)
    counts = sorted(len(times.get(u, [])) for u in plan)
    first = min((v[0] for v in times.values() if v), default=None)
    last = max((v[-1] for v in times.values() if v), default=None)
    return {
        "monitors": len(plan),
        "requests": sum(counts),
        "never_requested": sum(1 for c in counts if c == 0),
        "min": counts[0],
        "p1": pct(counts, 1),
        "p50": pct(counts, 50),
        "p99": pct(counts, 99),
        "max": counts[-1],
        "mean": round(sum(counts) / len(counts), 3),
        "span_s": round(last - first, 3) if first is not None else None,
        "statuses": {str(s): n for s, n in sorted(statuses["ok"].items())},
        "unknown_requests": unknown,
    }


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    cmd, log, start, end = argv[0], argv[1], int(argv[2]), int(argv[3])
    if cmd == "verify":
        out = cmd_verify(log, start, end, argv[4])
    elif cmd == "gaps":
        run_end = float(argv[argv.index("--end") + 1]) if "--end" in argv else None
        out = cmd_gaps(log, start, end, argv[4], run_end)
    elif cmd == "counts":
        out = cmd_counts(log, start, end, argv[4])
    else:
        sys.exit(__doc__)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
