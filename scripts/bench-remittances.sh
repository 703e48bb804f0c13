#!/usr/bin/env bash
# Make the weekly remittances of PAYMENTS payments (100,000 by default) on a fresh database and print the
# times beside their floor. A throw-away SQLite database unless DATABASE_URL names another (an empty one),
# e.g. on a throw-away PostgreSQL cluster:
#   ./scripts/with-postgres.sh bash -c 'psql "${DATABASE_URL%%/amiable*}/postgres?${DATABASE_URL#*\?}" \
#     -qc "CREATE DATABASE amiable" && ./scripts/bench-remittances.sh'
# Extra arguments go to the command (`--json`, `--per-case K`).
set -euo pipefail
cd "$(dirname "$0")/.."
PAYMENTS="${PAYMENTS:-100000}"
PY="${PY:-.venv/bin/python}"
work="$(mktemp -d /tmp/amiable-bench-remittances.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The statements are e-mailed to files in the throw-away directory, never to a server.
export DJANGO_SETTINGS_MODULE=config.settings.dev DJANGO_DEBUG=false AMIABLE_VAR_DIR="$work"
export DJANGO_EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend
export DATABASE_URL="${DATABASE_URL:-sqlite:///$work/bench.sqlite3}"
"$PY" manage.py migrate -v0
"$PY" manage.py bench_remittances --payments "$PAYMENTS" "$@"
