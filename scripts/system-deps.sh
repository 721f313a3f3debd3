#!/usr/bin/env bash
# Make sure the system programs Tracker runs on are present: PostgreSQL server
# and client with the RUM extension (ranked full-text search, see README
# "Search"), Redis server, and (with --browser) Chromium for the browser tests.
# As root on Debian/Ubuntu the missing ones are installed with apt; otherwise
# this says exactly what to install and fails.
set -euo pipefail

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

have_pg() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

# The major version of the newest server installed (the one devstack.sh runs),
# or of Debian's default server when none is installed yet.
pg_major() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$initdb" ]; then
    basename "$(dirname "$(dirname "$initdb")")"
  elif command -v apt-cache >/dev/null 2>&1; then
    apt-cache show postgresql 2>/dev/null | sed -n 's/^Depends:.*postgresql-\([0-9][0-9]*\).*/\1/p' | head -n 1
  fi
}

missing=()
if [ -z "${DATABASE_URL:-}" ]; then
  have_pg || missing+=(postgresql)
  # RUM index access method for search ranked in the index (migration issues 0004).
  major=$(pg_major)
  if [ -z "$major" ]; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq
    major=$(pg_major)
  fi
  if [ -n "$major" ] && [ ! -f "/usr/share/postgresql/$major/extension/rum.control" ]; then
    missing+=("postgresql-$major-rum")
  elif [ -z "$major" ]; then
    missing+=(postgresql-15-rum)
  fi
fi
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
# libmagic identifies uploaded files by their content (python-magic).
ldconfig -p 2>/dev/null | grep -q 'libmagic.so.1' || missing+=(libmagic1)
if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian postgresql package starts nothing here (no systemd), which is what we want.
  exit 0
fi

echo "system-deps: missing: ${missing[*]}" >&2
echo "Install them first, e.g.: sudo apt-get install ${missing[*]}" >&2
echo "(or point DATABASE_URL / REDIS_URL at servers you already run)" >&2
exit 1
