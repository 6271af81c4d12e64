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
# setuptools prints a note with every editable install of a flat layout: a folder named like
# the package in the working directory may take precedence on imports. Here that folder is
# the package itself, so the note says nothing a new user can act on.
PYTHONWARNINGS="ignore:Editable installation" \
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"

# Front-end assets the server hands out itself (ECharts for the dashboard, Swagger UI for the
# API docs), pinned by web/package-lock.json; installed again only when the lock changed.
# --ignore-scripts: no package needs a build step, and swagger-ui-dist's telemetry hook stays off.
if [[ ! -f web/node_modules/.package-lock.json || web/package-lock.json -nt web/node_modules/.package-lock.json ]]; then
  npm ci --prefix web --ignore-scripts --no-audit --no-fund --no-update-notifier \
    --loglevel=error >&2
fi
