#!/usr/bin/env python3
"""Writes a urls.json of N distinct local URLs (query strings) for hand measurements.

usage: scripts/gen-urls.py BASE N INTERVAL > urls-local.json
  BASE      e.g. http://127.0.0.1:40000  (from `cargo run --release --example localsite`)
  N         number of monitors
  INTERVAL  e.g. 1s
Only loopback bases are accepted.
"""
import json
import sys
from urllib.parse import urlparse

base, n, interval = sys.argv[1], int(sys.argv[2]), sys.argv[3]
host = urlparse(base).hostname or ""
if not (host.startswith("127.") or host in ("localhost", "::1")):
    sys.exit("refusing a non-loopback base: " + base)
json.dump([{"url": f"{base}/ok?n={i}", "interval": interval} for i in range(n)], sys.stdout)
