#!/usr/bin/env bash
# Issue first letters on a fresh SQLite database and print the time per letter.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d /tmp/amiable-bench-letters.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export DJANGO_SETTINGS_MODULE=config.settings.dev DJANGO_DEBUG=false AMIABLE_VAR_DIR="$work"
export DATABASE_URL="sqlite:///$work/bench.sqlite3"
.venv/bin/python manage.py migrate -v0
.venv/bin/python manage.py bench_letters --letters "${LETTERS:-500}"
