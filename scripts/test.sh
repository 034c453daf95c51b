#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: lint, types, then pytest on SQLite and on PostgreSQL
# (a scratch database created for this run and dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_ADMIN_URL=${PSABRIDGE_PG_ADMIN:-postgresql://postgres@127.0.0.1:5432/test}

bash scripts/ensure-system.sh

echo "== ruff"
"$BIN/ruff" check src tests scripts benchmarks
"$BIN/ruff" format --check src tests scripts benchmarks
echo "== mypy"
"$BIN/mypy"
echo "== import layers (.importlinter)"
"$BIN/lint-imports"

run_pytest() {
  local label=$1; shift
  echo "== pytest on $label"
  set +e
  "$BIN/pytest" "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    echo "pytest on $label collected no tests: that is a failure here" >&2
    return 1
  fi
  return "$rc"
}

PSABRIDGE_TEST_DATABASE_URL="" run_pytest SQLite "$@"

scratch="psabridge_test_$$_$(date +%s)"
psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $scratch" >/dev/null
trap 'psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
PSABRIDGE_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$scratch" run_pytest PostgreSQL "$@"
