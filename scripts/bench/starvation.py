#!/usr/bin/env python3
"""Starvation benchmark helpers (scripts/bench/starvation.sh).

  starvation.py config HANG_BASE OK_BASE N TIMEOUT OUT.json
      one healthy URL every 1 s (listed first), then N never-answering URLs (default interval)
  starvation.py analyze STDOUT.jsonl OK_URL SKIP_S SECS
      the healthy URL's checks whose due time is SKIP_S or more after the first one, in a run of
      SECS seconds: how many occurrences fell due, how many were checked, lateness p50/p99/max
      (ms); one JSON line
"""
import json
import sys
from datetime import datetime


def epoch_ms(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000.0


def config(hang_base, ok_base, n, timeout, out):
    urls = [{"url": f"{ok_base}/ok", "interval": "1s", "timeout": timeout}]
    urls += [{"url": f"{hang_base}/hang?n={i}", "timeout": timeout} for i in range(int(n))]
    with open(out, "w") as f:
        json.dump({"urls": urls}, f)


def quantile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def analyze(stdout, ok_url, skip_s, secs):
    checks, summary = [], None
    with open(stdout) as f:
        for line in f:
            v = json.loads(line)
            if v.get("type") == "check" and v["url"] == ok_url:
                checks.append((epoch_ms(v["ts"]) - v["lateness_ms"], v["lateness_ms"], v["up"]))
            elif v.get("type") == "summary":
                summary = v
    checks.sort()
    first = checks[0][0] if checks else 0.0
    last_due = first + (float(secs) - 1.0) * 1000.0
    # Half a period of slack: a due time is a start time (ms) less the lateness, so it is a
    # fraction of a millisecond off the grid.
    steady = [c for c in checks if c[0] >= first + float(skip_s) * 1000.0 - 500.0]
    # Occurrences due in the window: one a second from the window's start to the end of the run
    # (less the last second, whose check may not have started before the stop).
    expected = int((last_due - (first + float(skip_s) * 1000.0)) // 1000.0) + 1
    late = sorted(c[1] for c in steady)
    print(json.dumps({
        "checks_total": len(checks),
        "window_s": [float(skip_s), round((last_due - first) / 1000.0, 1)],
        "occurrences": expected,
        "checked": len(steady),
        "up": sum(1 for c in steady if c[2]),
        "lateness_ms": {"p50": quantile(late, 0.5), "p99": quantile(late, 0.99), "max": late[-1] if late else None},
        "held_back": summary.get("held_back") if summary else None,
        "coalesced": summary.get("coalesced") if summary else None,
        "checked_total": summary.get("checked_total") if summary else None,
    }))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"config": config, "analyze": analyze}[cmd](*args)
