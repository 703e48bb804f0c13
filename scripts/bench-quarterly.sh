#!/usr/bin/env bash
# Build the quarterly workbook of a creditor of CASES cases (1,000,000 by default) on a throw-away PostgreSQL
# cluster and print its time beside its floor, and its peak memory at SMALL cases and at CASES cases. On a
# database already filled (DATABASE_URL set, e.g. by seed_volume), measures what is there.
# Extra arguments go to the command (`--explain` prints the plans of the heaviest queries).
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${CASES:-1000000}"
SMALL="${SMALL:-100000}"
PY="${PY:-.venv/bin/python}"
work="$(mktemp -d /tmp/amiable-bench-quarterly.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export DJANGO_SETTINGS_MODULE=config.settings.dev DJANGO_DEBUG=false AMIABLE_VAR_DIR="$work" PY CASES SMALL
if [ -n "${DATABASE_URL:-}" ]; then
  "$PY" manage.py migrate -v0
  "$PY" manage.py bench_quarterly --cases "$CASES" --small "$SMALL" "$@"
else
  ./scripts/with-postgres.sh bash -c '
    psql "${DATABASE_URL%%/amiable*}/postgres?${DATABASE_URL#*\?}" -qc "CREATE DATABASE amiable" &&
    "$PY" manage.py migrate -v0 && "$PY" manage.py bench_quarterly --cases "$CASES" --small "$SMALL" "$@"' bash "$@"
fi
