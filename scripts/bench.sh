#!/usr/bin/env bash
# What `make bench` runs: a private PostgreSQL and Redis of its own (production
# settings: no DEVSTACK_FAST), migrations, the static files the production
# configuration serves, the dataset of SCALE issues (generated once per scale and
# seed, then reused; without SCALE, whatever dataset is there, or 100,000 issues),
# then the benchmark (bench/run.py), which starts the web server itself. Extra
# arguments go to bench/run.py, e.g.
#   make bench ARGS="--only 'api_*' --duration 5"
set -euo pipefail
cd "$(dirname "$0")/.."

export DATA_DIR=${BENCH_DATA_DIR:-.data/bench}
# One run at a time on a data folder: two would share the database, and each
# clears what the other added (its API token too: the other's requests get 401).
mkdir -p "$DATA_DIR"
exec 9>"$DATA_DIR/bench.lock"
if ! flock --nonblock 9; then
  echo "bench: another benchmark is running on $DATA_DIR; wait for it or set BENCH_DATA_DIR" >&2
  exit 1
fi
export PG_PORT=${BENCH_PG_PORT:-54349}
export REDIS_PORT=${BENCH_REDIS_PORT:-63819}
SEED=${SEED:-1}
# Production settings: durable commits, DEBUG off, hashed static files.
export DEVSTACK_FAST=0
export DEBUG=0
export SECURE_SSL_REDIRECT=0
# The load is one user at hundreds of requests a second: no per-user rate limit.
export API_RATE_USER=${API_RATE_USER:-1000000/second}
export API_RATE_ANON=${API_RATE_ANON:-1000000/second}
export SECRET_KEY=${SECRET_KEY:-bench-only-secret-key-not-for-production-use-0123456789}
export STATIC_ROOT=$(mkdir -p "$DATA_DIR/static" && cd "$DATA_DIR/static" && pwd)
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
python manage.py migrate --noinput -v 0
python manage.py collectstatic --noinput -v 0
started=$(date +%s)
python manage.py bench_data ${SCALE:+--scale "$SCALE"} --seed "$SEED" --if-needed
echo "bench: dataset ready in $(( $(date +%s) - started )) s"
# What beat does every STATS_INTERVAL_MINUTES (no beat runs here), so that a
# reused dataset's daily stats are as fresh as dbhealth expects, and the
# whole-history report is answered from its snapshot, as in production.
python manage.py shell -v 0 -c "from reports import tasks; tasks.aggregate_daily_stats(); tasks.refresh_report_snapshots()"
python manage.py dbhealth
python -m bench.run "$@"
