#!/usr/bin/env bash
# What `make test` runs: a throwaway PostgreSQL and Redis (unless DATABASE_URL /
# REDIS_URL are given), then the whole suite with coverage. Extra arguments go
# to pytest, e.g. `make test ARGS="-k bulk"`.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATA_DIR=${TEST_DATA_DIR:-.data/test}
export PG_PORT=${TEST_PG_PORT:-54339}
export REDIS_PORT=${TEST_REDIS_PORT:-63809}
export DEVSTACK_FAST=1
export DEBUG=0
# Production settings, but the test servers speak plain HTTP.
export SECURE_SSL_REDIRECT=0
export STATIC_MANIFEST=0
export SECRET_KEY=${SECRET_KEY:-test-only-secret-key-not-for-production-use-0123456789}
export MEDIA_ROOT=$(mkdir -p "$DATA_DIR/media" && cd "$DATA_DIR/media" && pwd)
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

DEVSTACK_STARTED=""
cleanup() { [ -z "$DEVSTACK_STARTED" ] || scripts/devstack.sh down $DEVSTACK_STARTED || true; }
trap cleanup EXIT

# Assigned first: `eval "$(...)"` alone ignores its failure (a port another
# program holds) and would go on against whatever answers there.
servers=$(scripts/devstack.sh up)
eval "$servers"
python manage.py check --fail-level WARNING
python manage.py makemigrations --check --dry-run >/dev/null \
  || { echo "test: models changed without a migration (run manage.py makemigrations)" >&2; exit 1; }
ruff check .
ruff format --check .
if [ $# -gt 0 ]; then
  pytest -n "${PYTEST_WORKERS:-2}" "$@"
  exit 0
fi
# Browser tests run in a session of their own: Playwright keeps an event loop in
# its thread, which the in-process async tests must not share.
pytest -n "${PYTEST_WORKERS:-2}" accounts issues reports tracker --cov --cov-report=
pytest -n "${PYTEST_WORKERS:-2}" e2e --cov --cov-append --cov-report=term --cov-report=html
