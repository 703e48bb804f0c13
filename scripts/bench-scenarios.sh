#!/usr/bin/env bash
# Run the scenarios of a day with CASES due cases (100,000 by default) on a fresh database and print the time
# beside its floor. A throw-away SQLite database unless DATABASE_URL names another (an empty one), e.g. on a
# throw-away PostgreSQL cluster:
#   ./scripts/with-postgres.sh bash -c 'psql "${DATABASE_URL%%/amiable*}/postgres?${DATABASE_URL#*\?}" \
#     -qc "CREATE DATABASE amiable" && ./scripts/bench-scenarios.sh'
# Extra arguments go to the command (`--json`, `--letters L`).
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${CASES:-100000}"
PY="${PY:-.venv/bin/python}"
work="$(mktemp -d /tmp/amiable-bench-scenarios.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The letters' PDFs go to the throw-away directory; the messages stay in the outbox (no worker runs).
export DJANGO_SETTINGS_MODULE=config.settings.dev DJANGO_DEBUG=false AMIABLE_VAR_DIR="$work"
export DATABASE_URL="${DATABASE_URL:-sqlite:///$work/bench.sqlite3}"
"$PY" manage.py migrate -v0
"$PY" manage.py bench_scenarios --cases "$CASES" "$@"
