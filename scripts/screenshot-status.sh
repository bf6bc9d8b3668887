#!/usr/bin/env bash
# Renders the live status page of a run with 90 days of history in headless Chromium and writes
# docs/status-page.png. The history is synthetic (examples/bench_history.rs, `fill --demo`: six
# named monitors with known outages), its URLs on a local site (python3 -m http.server) that the
# run then monitors, so the page shows live states over real rollups. No internet.
# Needs Debian's chromium (`apt-get install -y chromium`), python3 and curl; pngquant optional.
# CI does not run this (the browser test in `cargo test` checks the page in Chromium).
#
#   scripts/screenshot-status.sh [OUT.png]      # default docs/status-page.png
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/status-page.png}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet --bin sitewatch --example bench_history

# The local site: every demo URL answers 200 except the CDN's logo (404: down now).
mkdir -p "$work/site"/{www,api,shop,status,legacy,cdn}
for d in www shop status legacy; do echo ok > "$work/site/$d/index.html"; done
echo ok > "$work/site/api/health"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >/dev/null 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"

target/release/examples/bench_history fill --demo --base "$base" --days 90 --interval 60 \
  --db "$work/history.db" >/dev/null

cat > "$work/config.json" <<JSON
{"urls": [
  {"name": "homepage", "group": "Website", "url": "$base/www/", "interval": "60s"},
  {"name": "shop", "group": "Website", "url": "$base/shop/", "interval": "60s"},
  {"name": "status page", "group": "Website", "url": "$base/status/", "interval": "60s"},
  {"name": "cdn", "group": "Website", "url": "$base/cdn/logo.png", "interval": "60s"},
  {"name": "api", "group": "Backend", "url": "$base/api/health", "interval": "60s"},
  {"name": "legacy", "group": "Backend", "url": "$base/legacy/", "interval": "60s"}
]}
JSON
target/release/sitewatch --db "$work/history.db" --listen 127.0.0.1:0 "$work/config.json" \
  >/dev/null 2>"$work/stderr" &
pids+=($!)
url=
for _ in $(seq 100); do
  url=$(grep -o 'listening on http://[^ ]*' "$work/stderr" | sed 's/listening on //' || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/stderr"; echo "sitewatch did not start" >&2; exit 1; }
# Until every monitor has a verdict, the history figures are in, and the writer has stored why
# the CDN went down (it commits every second).
for _ in $(seq 150); do
  page=$(curl -fsS "$url" || true)
  if grep -q 'class="word"' <<<"$page" && ! grep -q 'not checked yet' <<<"$page" \
     && grep -q '99\.[0-9]*%' <<<"$page" && grep -q 'HTTP 404' <<<"$page"; then
    break
  fi
  sleep 0.2
done
chromium --headless --no-sandbox --disable-gpu --disable-quic --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1280,1600 \
  --screenshot="$work/status.png" "$url" 2>/dev/null
mkdir -p "$(dirname "$out")"
if command -v pngquant >/dev/null; then
  pngquant --quality 70-90 --speed 1 --force --output "$out" "$work/status.png"
else
  cp "$work/status.png" "$out"
fi
echo "wrote $out ($(wc -c < "$out") bytes) from $url"
