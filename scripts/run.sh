#!/usr/bin/env bash
# Everything `make run` starts: PostgreSQL and Redis (unless DATABASE_URL /
# REDIS_URL name running servers), migrations, demo data on first start, then the
# web server, a Celery worker and Celery beat with their logs interleaved.
# Ctrl-C (or SIGTERM) stops all of it, and only what this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATA_DIR=$(mkdir -p "${DATA_DIR:-.data}" && cd "${DATA_DIR:-.data}" && pwd)
export WEB_HOST=${WEB_HOST:-127.0.0.1}
export WEB_PORT=${WEB_PORT:-8000}
export DEBUG=${DEBUG:-1}
export MEDIA_ROOT=${MEDIA_ROOT:-$DATA_DIR/media}
export PYTHONUNBUFFERED=1
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

if (exec 3<>"/dev/tcp/$WEB_HOST/$WEB_PORT") 2>/dev/null; then
  echo "run: port $WEB_PORT is taken; set WEB_PORT to a free port" >&2
  exit 1
fi

DEVSTACK_STARTED=""
cleanup() { [ -z "$DEVSTACK_STARTED" ] || scripts/devstack.sh down $DEVSTACK_STARTED || true; }
HONCHO=""
# Let honcho stop web, worker and beat before the servers they use go away.
stop() {
  if [ -n "$HONCHO" ]; then kill "-$1" "$HONCHO" 2>/dev/null || true; wait "$HONCHO" || true; fi
  exit "$2"
}
trap cleanup EXIT
trap 'stop INT 130' INT
trap 'stop TERM 143' TERM

# Assigned first: `eval "$(...)"` alone ignores its failure (a port another
# program holds) and would go on against whatever answers there.
servers=$(scripts/devstack.sh up)
eval "$servers"
python manage.py migrate --noinput
python manage.py seed_demo --issues "${DEMO_ISSUES:-300}"
echo "run: Tracker on http://$WEB_HOST:$WEB_PORT/  (Ctrl-C stops everything)"
# Not exec: the EXIT trap must stop the servers once honcho has stopped its processes.
honcho --no-colour -f Procfile start &
HONCHO=$!
wait "$HONCHO"
