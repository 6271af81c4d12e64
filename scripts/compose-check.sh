#!/usr/bin/env bash
# Check a Compose file the way `docker compose config` does, without a Docker engine:
# tools/compose-check loads it with compose-go, the library Docker Compose is built on.
# The tool is built once into a cache, keyed by its sources. Where `docker compose`
# itself answers, it runs too.
#
#   scripts/compose-check.sh [FILE]    default: docker-compose.yml; prints the normalised file
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
file="${1:-$root/docker-compose.yml}"
src="$root/tools/compose-check"
key="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)"
bin="${LEADLEDGER_TOOLS_CACHE:-$HOME/.cache/leadledger/tools}/compose-check-$key"

if [[ ! -x "$bin" ]]; then
  command -v go >/dev/null || { echo "compose-check: Go is needed to build tools/compose-check" >&2; exit 1; }
  echo "compose-check: building $bin" >&2
  mkdir -p "$(dirname "$bin")"
  (cd "$src" && go build -o "$bin" .)
fi
"$bin" "$file"
if docker compose version >/dev/null 2>&1; then
  docker compose -f "$file" config -q
fi
