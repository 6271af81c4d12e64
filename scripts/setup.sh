#!/usr/bin/env bash
# Create .venv and install leadledger into it (with the test and dev tools if asked:
# `scripts/setup.sh dev`). Safe to run again: it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

extra=""
if [[ "${1:-}" == "dev" ]]; then extra="[dev]"; fi

if [[ ! -x .venv/bin/python ]]; then
  echo "creating .venv with $(python3 --version)" >&2
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"
