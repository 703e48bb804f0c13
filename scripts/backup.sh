#!/usr/bin/env bash
# `make backup`: the database (pg_dump -Fc on PostgreSQL, SQLite's online backup otherwise), the stored documents
# (the media folder) and a manifest of their SHA-256, in a new timestamped folder under $BACKUP_DIR (var/backups).
# The database is saved first: every document it names was stored before, so the copy that follows holds it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
BACKUP_DIR="${BACKUP_DIR:-var/backups}"

eval "$($PY scripts/storage-info.py)"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$BACKUP_DIR/amiable-$stamp"
if [ -e "$target" ]; then
  echo "La sauvegarde $target existe déjà." >&2
  exit 1
fi
mkdir -p "$target.partial"
trap 'rm -rf "$target.partial"' EXIT

if [ "$DB_KIND" = "postgresql" ]; then
  "$PG_BIN/pg_dump" --format=custom --file="$target.partial/database.dump"
else
  if [ ! -f "$DB_FILE" ]; then
    echo "Base SQLite introuvable : $DB_FILE." >&2
    exit 1
  fi
  # The online backup API: a consistent copy even while the application writes (WAL).
  "$PY" -c 'import sqlite3, sys
source, copy = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
with copy:
    source.backup(copy)
copy.close(); source.close()' "$DB_FILE" "$target.partial/database.sqlite3"
fi

mkdir -p "$target.partial/media"
if [ -d "$MEDIA_ROOT" ]; then
  cp -a "$MEDIA_ROOT/." "$target.partial/media/"
fi
printf 'kind=%s\ncreated=%s\n' "$DB_KIND" "$stamp" >"$target.partial/backup.info"
(cd "$target.partial" && find . -type f ! -name MANIFEST.sha256 -print0 | sort -z | xargs -0 -r sha256sum) \
  >"$target.partial/MANIFEST.sha256"
mv "$target.partial" "$target"
trap - EXIT
echo "Sauvegarde faite : $target ($(wc -l <"$target/MANIFEST.sha256") fichier(s) au manifeste)."
