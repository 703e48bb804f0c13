#!/usr/bin/env bash
# Issue first letters in bulk (rendered in parallel, numbered at commit) on a fresh SQLite database and on a
# throw-away PostgreSQL cluster, against a bare WeasyPrint render of the same letters (LETTERS, default 3,500).
set -euo pipefail
cd "$(dirname "$0")/.."
LETTERS="${LETTERS:-3500}"
PY="$(pwd)/.venv/bin/python"
work="$(mktemp -d /tmp/amiable-bench-letters.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export DJANGO_SETTINGS_MODULE=config.settings.dev DJANGO_DEBUG=false AMIABLE_VAR_DIR="$work"

echo "== SQLite"
DATABASE_URL="sqlite:///$work/bench.sqlite3" $PY manage.py migrate -v0
DATABASE_URL="sqlite:///$work/bench.sqlite3" $PY manage.py bench_letters --letters "$LETTERS"

if [ -z "${SKIP_PG:-}" ]; then
  echo "== PostgreSQL"
  rm -rf "$work/media"
  ./scripts/with-postgres.sh bash -c "
    psql \"\${DATABASE_URL%%/amiable*}/postgres?\${DATABASE_URL#*\\?}\" -qc 'CREATE DATABASE amiable' >/dev/null &&
    $PY manage.py migrate -v0 && $PY manage.py bench_letters --letters $LETTERS"
fi
