#!/usr/bin/env bash
# The whole test suite, as CI runs it: install, start PostgreSQL, lint, type-check, and
# run all three tiers (unit, integration, e2e). The Kafka tests start a local KRaft
# broker themselves (scripts/kafka-local.sh) unless KAFKA_BOOTSTRAP_SERVERS is set.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m unit`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh dev

if [[ -z "${LEADLEDGER_TEST_POSTGRES_URL:-}" ]]; then
  LEADLEDGER_TEST_POSTGRES_URL="$(scripts/postgres-local.sh ensure | tail -n 1)"
  export LEADLEDGER_TEST_POSTGRES_URL
fi
echo "PostgreSQL for tests: ${LEADLEDGER_TEST_POSTGRES_URL}" >&2

echo "ruff check" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "mypy" >&2
.venv/bin/mypy

.venv/bin/pytest "$@"
