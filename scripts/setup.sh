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
