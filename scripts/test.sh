#!/usr/bin/env bash
# The test command: installs what the tests need from Debian's packages when it is missing (a real
# browser for the status page, Prometheus's promtool and server for /metrics and /probe, Alertmanager
# and amtool for the fleet's end-to-end test), then runs
# every unit and integration test. Tests never skip for want of a package: they fail, saying what
# to install, so a machine without them is not reported green.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null || missing+=(chromium)
{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || missing+=(prometheus)
{ command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null; } || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]} from Debian's packages" >&2
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

exec cargo test "$@"
