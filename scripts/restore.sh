#!/usr/bin/env bash
# `make restore BACKUP=var/backups/amiable-…`: check the backup against its manifest, then restore it into an
# empty database (DATABASE_URL) and an empty media folder, and check the audit chain and the documents.
# Refuses to write over anything: restoring is for a new machine or a fresh database.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
BACKUP="${BACKUP:-${1:-}}"

fail() { echo "$*" >&2; exit 1; }
[ -n "$BACKUP" ] || fail "Indiquez la sauvegarde : make restore BACKUP=var/backups/amiable-…"
[ -f "$BACKUP/MANIFEST.sha256" ] || fail "Pas de manifeste dans $BACKUP : ce n'est pas une sauvegarde d'Amiable."
(cd "$BACKUP" && sha256sum --check --quiet --strict MANIFEST.sha256) \
  || fail "La sauvegarde $BACKUP ne correspond pas à son manifeste (fichier manquant ou modifié) : restauration refusée."

eval "$($PY scripts/storage-info.py)"
if [ -d "$MEDIA_ROOT" ] && [ -n "$(ls -A "$MEDIA_ROOT")" ]; then
  fail "Le dossier des documents $MEDIA_ROOT n'est pas vide : restauration refusée (elle n'écrase rien)."
fi

if [ "$DB_KIND" = "postgresql" ]; then
  [ -f "$BACKUP/database.dump" ] || fail "Cette sauvegarde n'est pas celle d'une base PostgreSQL ($BACKUP/database.dump absent)."
  tables="$("$PG_BIN/psql" -XtAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
  [ "$tables" = "0" ] || fail "La base $PGDATABASE n'est pas vide ($tables table(s)) : restauration refusée (elle n'écrase rien)."
  # Owned by the restoring role (the owner role in production); grants are given again by grant_app_role.
  "$PG_BIN/pg_restore" --no-owner --no-acl --exit-on-error --single-transaction --dbname="$PGDATABASE" "$BACKUP/database.dump"
else
  [ -f "$BACKUP/database.sqlite3" ] || fail "Cette sauvegarde n'est pas celle d'une base SQLite ($BACKUP/database.sqlite3 absent)."
  [ ! -s "$DB_FILE" ] || fail "La base $DB_FILE existe déjà : restauration refusée (elle n'écrase rien)."
  mkdir -p "$(dirname "$DB_FILE")"
  cp "$BACKUP/database.sqlite3" "$DB_FILE"
fi
mkdir -p "$MEDIA_ROOT"
cp -a "$BACKUP/media/." "$MEDIA_ROOT/"

"$PY" manage.py verify_audit
"$PY" manage.py verify_documents
echo "Restauration faite depuis $BACKUP."
