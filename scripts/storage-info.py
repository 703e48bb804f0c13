"""Print, as shell assignments, where the database and the stored documents are (for backup.sh, restore.sh)."""

import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

import django

django.setup()

from django.conf import settings  # noqa: E402

db = settings.DATABASES["default"]
if db["ENGINE"].endswith("sqlite3"):
    values = {"DB_KIND": "sqlite", "DB_FILE": str(db["NAME"])}
elif db["ENGINE"].endswith("postgresql"):
    # libpq's own variables: pg_dump, pg_restore and psql read them; the password never reaches a command line.
    values = {
        "DB_KIND": "postgresql",
        "PGDATABASE": db["NAME"],
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        # A Unix socket given as `?host=/dir&port=…` in DATABASE_URL is in OPTIONS.
        "PGHOST": db.get("HOST") or str(db.get("OPTIONS", {}).get("host") or ""),
        "PGPORT": str(db.get("PORT") or db.get("OPTIONS", {}).get("port") or ""),
    }
else:
    sys.exit(f"Base de données non prise en charge par la sauvegarde : {db['ENGINE']}.")
values["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
for name, value in values.items():
    if value or not name.startswith("PG"):  # an empty libpq variable would override libpq's own default
        print(f"{'export ' if name.startswith('PG') else ''}{name}={shlex.quote(value)}")
