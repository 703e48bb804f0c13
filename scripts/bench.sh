#!/usr/bin/env bash
# `make bench`: every measure of the performance targets in one run, on a throw-away PostgreSQL cluster
# (scripts/with-postgres.sh), each beside its floor, then one table (bench_report) kept in var/bench.json.
#   CASES=100000 make bench   a quicker run (default: 1,000,000 cases)
#   RUNS=7                    timed requests per page (bench_pages)
#   ROWS, LETTERS, PAYMENTS   sizes of the intake, letters and remittances benches
# The pages (and the quarterly report, when its bench exists) are measured on the database filled by
# seed_volume; the intake, letters, remittances and scenarios benches each get a fresh database of the same
# cluster, as their own scripts give them. A bench that fails is reported and the others still run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CASES="${CASES:-1000000}" RUNS="${RUNS:-7}" ROWS="${ROWS:-100000}" LETTERS="${LETTERS:-3500}"
export PAYMENTS="${PAYMENTS:-100000}" PY="${PY:-.venv/bin/python}"
work="$(mktemp -d /tmp/amiable-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export DJANGO_SETTINGS_MODULE=config.settings.dev DJANGO_DEBUG=false AMIABLE_VAR_DIR="$work"
export DJANGO_EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend
export AMIABLE_BENCH_OUT="$work/bench.jsonl"
mkdir -p var
: >"$AMIABLE_BENCH_OUT"

./scripts/with-postgres.sh bash -c '
  set -uo pipefail
  admin="${DATABASE_URL%%/amiable*}/postgres?${DATABASE_URL#*\?}"
  volume_url="$DATABASE_URL"
  failed=()
  # A database of the cluster, created and migrated: `fresh NAME`.
  fresh() {
    psql "$admin" -qc "CREATE DATABASE $1" >/dev/null &&
      DATABASE_URL="${volume_url/\/amiable\?//$1?}" "$PY" manage.py migrate -v0
  }
  exists() { "$PY" manage.py help "$1" >/dev/null 2>&1 || { echo "== $1 : commande absente, ignorée"; return 1; }; }
  # Run a command on database $1 (benches may land after this script: a missing one is skipped).
  bench() {
    local db="$1" name="$2"; shift 2
    exists "$name" || return 0
    echo "== $name $*"
    DATABASE_URL="${volume_url/\/amiable\?//$db?}" "$PY" manage.py "$name" "$@" || failed+=("$name")
  }
  # Run a bench on a fresh database of its own, named after it.
  bench_fresh() {
    exists "$1" || return 0
    fresh "$1" && bench "$1" "$@"
  }

  echo "== Base de volume : $CASES dossiers"
  fresh amiable && bench amiable seed_volume --cases "$CASES" -v 2
  bench amiable bench_pages --runs "$RUNS"
  bench amiable bench_quarterly
  bench_fresh bench_intake --rows "$ROWS"
  bench_fresh bench_letters --letters "$LETTERS"
  bench_fresh bench_remittances --payments "$PAYMENTS"
  bench_fresh bench_scenarios
  echo
  "$PY" manage.py bench_report --previous var/bench.json --output var/bench.json
  if [ ${#failed[@]} -gt 0 ]; then
    echo "Mesures en échec : ${failed[*]}" >&2
    exit 1
  fi
'
