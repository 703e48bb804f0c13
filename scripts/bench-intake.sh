#!/usr/bin/env bash
# Import a generated 100,000-row batch on a fresh SQLite database and on a throw-away PostgreSQL cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-100000}"
PY="${PY:-.venv/bin/python}"
work="$(mktemp -d /tmp/amiable-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export DJANGO_SETTINGS_MODULE=config.settings.dev DJANGO_DEBUG=false AMIABLE_VAR_DIR="$work"

echo "== SQLite"
DATABASE_URL="sqlite:///$work/bench.sqlite3" $PY manage.py migrate -v0
DATABASE_URL="sqlite:///$work/bench.sqlite3" $PY manage.py bench_intake --rows "$ROWS"

echo "== PostgreSQL"
./scripts/with-postgres.sh bash -c "
  psql \"\${DATABASE_URL%%/amiable*}/postgres?\${DATABASE_URL#*\\?}\" -qc 'CREATE DATABASE amiable' >/dev/null &&
  $PY manage.py migrate -v0 && $PY manage.py bench_intake --rows $ROWS"
