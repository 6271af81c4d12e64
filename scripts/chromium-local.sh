#!/usr/bin/env bash
# Make sure Debian's `chromium` is installed for the dashboard's browser test, and print its
# executable path as the last line. Playwright drives this binary through executable_path,
# so `playwright install` (which downloads a browser build) is never needed.
#
#   scripts/chromium-local.sh          install if missing; print the path
#   scripts/chromium-local.sh status   print the path if installed, else exit 1
set -euo pipefail

say() { echo "chromium-local: $*" >&2; }

find_chromium() {
  local candidate
  for candidate in /usr/bin/chromium /usr/lib/chromium/chromium; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

install_chromium() {
  say "no chromium found; installing Debian's chromium package"
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { say "need root or sudo to apt-get install chromium"; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
}

case "${1:-ensure}" in
  ensure)
    path="$(find_chromium)" || { install_chromium; path="$(find_chromium)"; } || {
      say "chromium was installed but no executable was found at /usr/bin/chromium"
      exit 1
    }
    echo "$path"
    ;;
  status) find_chromium ;;
  *) echo "usage: $0 [ensure|status]" >&2; exit 2 ;;
esac
