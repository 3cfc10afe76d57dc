#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the browser test (web/),
# and prints its path on stdout. As root it installs the package when it
# is missing; otherwise it prints the exact command and fails.
# CHROMIUM overrides the path to look for.
set -euo pipefail
path=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$path" ]; then
  echo "$path"
  exit 0
fi
install='apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium'
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing at $path; the browser test needs it. Install it with:" >&2
  echo "  sudo sh -c '$install'" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing at $path and there is no apt-get here: install chromium and set CHROMIUM to its path" >&2
  exit 1
fi
echo "== installing chromium (Debian package) for the browser test" >&2
apt-get update >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2
if [ ! -x "$path" ]; then
  echo "apt-get installed chromium, but not at $path; set CHROMIUM to its path" >&2
  exit 1
fi
echo "$path"
