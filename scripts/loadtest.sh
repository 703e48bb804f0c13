#!/usr/bin/env bash
# `make loadtest`: fifty people at once on the production settings. A throw-away PostgreSQL is filled with
# CASES cases (seed_volume), gunicorn serves the application with config.settings.prod, and Locust plays USERS
# agents and creditor staff (scripts/locustfile.py) for DURATION, while a batch of BATCH_ROWS claims is imported
# and the daily run runs. Prints requests per second, p50/p95/p99 and errors per step, kept in var/loadtest.json.
#   CASES=100000 USERS=50 DURATION=5m WORKERS=3 BATCH_ROWS=20000 make loadtest
#   BACKGROUND_NICE=0 runs the import and the daily run at the web server's priority instead of nice 10
set -euo pipefail
cd "$(dirname "$0")/.."
export CASES="${CASES:-100000}" USERS="${USERS:-50}" DURATION="${DURATION:-5m}" WORKERS="${WORKERS:-3}"
export BATCH_ROWS="${BATCH_ROWS:-20000}" LOAD_PORT="${LOAD_PORT:-8765}" PY="${PY:-.venv/bin/python}"
export BACKGROUND_NICE="${BACKGROUND_NICE:-10}"
work="$(mktemp -d /tmp/amiable-load.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export WORK="$work" AMIABLE_VAR_DIR="$work"
# One secret for the server and the commands that make its sessions; an audit key of the run only.
DJANGO_SECRET_KEY="$(head -c 48 /dev/urandom | base64)"
AMIABLE_AUDIT_KEY="$(head -c 48 /dev/urandom | base64)"
export DJANGO_SECRET_KEY AMIABLE_AUDIT_KEY DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost"
# The daily run's e-mails go to files: the test loads this machine, not a mail server.
export DJANGO_EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend
mkdir -p var

./scripts/with-postgres.sh bash -c '
  set -euo pipefail
  psql "${DATABASE_URL%%/amiable*}/postgres?${DATABASE_URL#*\?}" -qc "CREATE DATABASE amiable" >/dev/null
  dev() { DJANGO_SETTINGS_MODULE=config.settings.dev DJANGO_DEBUG=false "$PY" manage.py "$@"; }
  prod() { DJANGO_SETTINGS_MODULE=config.settings.prod "$PY" manage.py "$@"; }
  dev migrate -v0
  echo "== Volume : $CASES dossiers"
  dev seed_volume --cases "$CASES"
  dev loadtest_plan --out "$WORK/plan.json" --sessions "$USERS" --batch "$WORK/batch.csv" --batch-rows "$BATCH_ROWS"
  prod collectstatic --noinput -v0
  prod check --deploy --fail-level ERROR >/dev/null

  echo "== gunicorn : $WORKERS processus, réglages de production"
  DJANGO_SETTINGS_MODULE=config.settings.prod .venv/bin/gunicorn config.wsgi -w "$WORKERS" -b "127.0.0.1:$LOAD_PORT" \
    --access-logfile "$WORK/access.log" --error-logfile "$WORK/gunicorn.log" &
  server=$!
  trap "kill $server 2>/dev/null || true" EXIT
  for _ in $(seq 60); do
    (exec 3<>"/dev/tcp/127.0.0.1/$LOAD_PORT") 2>/dev/null && break
    sleep 1
  done

  # While the users work: a batch import after 30 s, the daily run after 60 s (their own processes), at the lower
  # CPU priority production gives background work (docs/operations.md, « Processus et priorités »).
  ( sleep 30; start=$SECONDS; DJANGO_SETTINGS_MODULE=config.settings.prod nice -n "$BACKGROUND_NICE" "$PY" manage.py import_claims "$WORK/batch.csv" --creditor cpam-paris --json >"$WORK/import.json" 2>&1 \
      && code=0 || code=$?
    echo "== Import pendant le test : code $code en $((SECONDS - start)) s ($(head -c 300 "$WORK/import.json"))" ) &
  importer=$!
  ( sleep 60; start=$SECONDS; DJANGO_SETTINGS_MODULE=config.settings.prod nice -n "$BACKGROUND_NICE" "$PY" manage.py run_daily >"$WORK/daily.log" 2>&1 \
      && code=0 || code=$?
    echo "== run_daily pendant le test : code $code en $((SECONDS - start)) s, $(grep -c "^== " "$WORK/daily.log") tâche(s) lancée(s)"
    [ "$code" = 0 ] || tail -n 20 "$WORK/daily.log" ) &
  daily=$!

  echo "== Locust : $USERS utilisateurs pendant $DURATION"
  LOADTEST_PLAN="$WORK/plan.json" .venv/bin/locust -f scripts/locustfile.py --headless -u "$USERS" -r 5 \
    -t "$DURATION" --host "http://127.0.0.1:$LOAD_PORT" --csv "$WORK/locust" --only-summary \
    --loglevel WARNING >"$WORK/locust.log" 2>&1 || true
  wait "$importer" "$daily" || true
  kill "$server"; wait "$server" 2>/dev/null || true
  errors=$(grep -c " 500 \| 502 \| 503 \| 504 " "$WORK/access.log" || true)
  echo "== Réponses 5xx dans le journal de gunicorn : $errors"
  "$PY" manage.py loadtest_report "$WORK/locust" --output var/loadtest.json \
    --context "{\"cases\": $CASES, \"users\": $USERS, \"duration\": \"$DURATION\", \"workers\": $WORKERS, \"batch_rows\": $BATCH_ROWS, \"background_nice\": $BACKGROUND_NICE}"
'
