#!/usr/bin/env bash
# Renders the HTML report of a synthetic week (six monitors with known outages, see
# examples/bench_history.rs, `fill --demo`) in headless Chromium and writes docs/report.png.
# Needs Debian's chromium (`apt-get install -y chromium`; pngquant optional); CI does not run this.
#
#   scripts/screenshot-report.sh [OUT.png]      # default docs/report.png; keeps report.html beside it
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/report.png}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet --bin sitewatch --example bench_history
target/release/examples/bench_history fill --demo --days 7 --interval 60 --db "$work/week.db" >/dev/null
target/release/sitewatch report --db "$work/week.db" --since 7d --format html --output "$work/report.html"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1200,1000 \
  --screenshot="$work/report.png" "file://$work/report.html" 2>/dev/null
mkdir -p "$(dirname "$out")"
# Flat colours quantise well: pngquant (Debian package) makes the file about 3x smaller.
if command -v pngquant >/dev/null; then
  pngquant --quality 70-90 --speed 1 --force --output "$out" "$work/report.png"
else
  cp "$work/report.png" "$out"
fi
cp "$work/report.html" "${out%.png}.html"
target/release/sitewatch report --db "$work/week.db" --since 7d
echo "wrote $out ($(wc -c < "$out") bytes) and ${out%.png}.html"
