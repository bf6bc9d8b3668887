#!/usr/bin/env python3
"""Live status surface benchmark helpers (scripts/bench/surface.sh).

  surface.py config OK_BASE N INTERVAL OUT.json
      N monitors of OK_BASE/ok?n=i every INTERVAL
  surface.py load ADDR IDLE SECS OUT.json
      for SECS seconds: keeps IDLE idle connections open to ADDR (reopening those the server
      closes) and scrapes /api/v1/status and /healthz in a tight loop, one request per
      connection; writes scrapes, status codes, latency p50/p99/max (ms) and reconnects
  surface.py analyze STDOUT.jsonl SKIP_S
      lateness (ms) of every check started SKIP_S or more after the first one: p50/p99/max;
      one JSON line
"""
import json
import selectors
import socket
import sys
import time
from datetime import datetime


def epoch_ms(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000.0


def quantile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def config(ok_base, n, interval, out):
    urls = [{"url": f"{ok_base}/ok?n={i}", "interval": interval, "timeout": "2s"} for i in range(int(n))]
    with open(out, "w") as f:
        json.dump({"urls": urls}, f)


def scrape(host, port, path):
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, (time.monotonic() - t0) * 1000.0, len(data)


def load(addr, idle, secs, out):
    host, port = addr.rsplit(":", 1)
    port = int(port)
    sel = selectors.DefaultSelector()

    def open_idle():
        s = socket.create_connection((host, port), timeout=5)
        s.setblocking(False)
        # Half a request line, never finished: what a slowloris client sends.
        s.send(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        sel.register(s, selectors.EVENT_READ)

    end = time.monotonic() + float(secs)
    t0 = time.monotonic()
    refused = 0
    for _ in range(int(idle)):
        try:
            open_idle()
        except OSError:
            refused += 1
    opened_s = time.monotonic() - t0
    reconnects, codes, lat, sizes = 0, {}, [], []
    paths = ["/api/v1/status", "/healthz"]
    i = 0
    while time.monotonic() < end:
        # Reopen idle connections the server closed (head deadline, or room for new ones).
        for key, _ in sel.select(timeout=0):
            s = key.fileobj
            try:
                closed = s.recv(4096) == b""
            except (BlockingIOError, InterruptedError):
                closed = False
            except OSError:
                closed = True
            if closed:
                sel.unregister(s)
                s.close()
                try:
                    open_idle()
                    reconnects += 1
                except OSError:
                    pass
        try:
            status, ms, size = scrape(host, port, paths[i % 2])
        except OSError:
            status, ms, size = 0, 0.0, 0
        codes[status] = codes.get(status, 0) + 1
        lat.append(ms)
        if i % 2 == 0:
            sizes.append(size)
        i += 1
    lat.sort()
    result = {
        "idle": int(idle),
        "idle_opened_s": round(opened_s, 2),
        "idle_refused": refused,
        "secs": float(secs),
        "scrapes": i,
        "scrapes_per_s": round(i / max(float(secs) - opened_s, 0.001), 1),
        "codes": codes,
        "latency_ms": {"p50": quantile(lat, 0.5), "p99": quantile(lat, 0.99), "max": lat[-1] if lat else None},
        "status_bytes": sizes[0] if sizes else None,
        "idle_reconnects": reconnects,
    }
    with open(out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


def analyze(stdout, skip_s):
    checks = []
    with open(stdout) as f:
        for line in f:
            v = json.loads(line)
            if v.get("type") == "check":
                checks.append((epoch_ms(v["ts"]), v["lateness_ms"]))
    checks.sort()
    first = checks[0][0] if checks else 0.0
    late = sorted(c[1] for c in checks if c[0] >= first + float(skip_s) * 1000.0)
    print(json.dumps({
        "checks": len(late),
        "lateness_ms": {"p50": quantile(late, 0.5), "p99": quantile(late, 0.99), "max": late[-1] if late else None},
    }))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"config": config, "load": load, "analyze": analyze}[cmd](*args)
