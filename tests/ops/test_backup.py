"""`make backup` / `make restore`: the demo saved, then restored into a fresh database and media folder, has the
same cases, documents and audit chain; a backup that does not match its manifest, or a database that is not
empty, is refused. On the engine the suite runs on: throw-away PostgreSQL databases on the same server, or
SQLite files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = """
import json
from amiable.audit.chain import COLUMNS
from amiable.audit.management.commands.verify_audit import stored_rows
from amiable.audit.chain import verify
from amiable.cases.models import Case
from amiable.ops.documents import STORED_DOCUMENTS, verify_documents
from django.apps import apps
documents = []
for label, field, hash_field in STORED_DOCUMENTS:
    rows = apps.get_model(label)._base_manager.exclude(**{field: ""}).order_by("pk")
    documents += [[label, *row] for row in rows.values_list("pk", field, *([hash_field] if hash_field else []))]
print(json.dumps({
    "cases": list(Case.objects.order_by("reference").values_list("reference", "status", "balance")),
    "documents": documents,
    "audit": verify(stored_rows()),
    "document_findings": [str(f) for _, f in verify_documents() if f],
}, default=str))
"""


def _server() -> dict:
    db = settings.DATABASES["default"]
    options = db.get("OPTIONS", {})
    return {
        "host": db.get("HOST") or str(options.get("host") or ""),
        "port": str(db.get("PORT") or options.get("port") or ""),
        "user": db.get("USER") or "",
    }


def _admin(sql: str) -> None:
    server = _server()
    with psycopg.connect(dbname="postgres", autocommit=True, **{k: v for k, v in server.items() if v}) as admin:
        admin.execute(sql)


class Site:
    """One installation: its database and its folders, as the environment of the commands run against it."""

    def __init__(self, tmp_path: Path, name: str):
        self.name = f"amiable_backup_{name}_{os.getpid()}"
        self.var = tmp_path / name
        self.media = self.var / "media"
        self.var.mkdir()
        if connection.vendor == "postgresql":
            server = _server()
            _admin(f"DROP DATABASE IF EXISTS {self.name}")
            _admin(f"CREATE DATABASE {self.name}")
            self.url = f"postgres://{server['user']}@/{self.name}?host={server['host']}&port={server['port']}"
        else:
            self.url = f"sqlite:///{self.var / 'amiable.sqlite3'}"

    def env(self, **extra) -> dict:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": self.url,
            "AMIABLE_VAR_DIR": str(self.var),
            "AMIABLE_MEDIA_ROOT": str(self.media),
            "PY": sys.executable,
            **extra,
        }

    def run(self, *command: str, check: bool = True, **extra) -> subprocess.CompletedProcess:
        done = subprocess.run(command, cwd=ROOT, env=self.env(**extra), capture_output=True, text=True, timeout=1800)
        if check:
            assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
        return done

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "manage.py", *args)

    def summary(self) -> dict:
        return json.loads(self.manage("shell", "-c", SUMMARY).stdout.strip().splitlines()[-1])

    def drop(self) -> None:
        # The demo's keys started a gpg-agent for this site's GnuPG home: it would outlive the test.
        subprocess.run(
            ["gpgconf", "--homedir", str(self.var / "gnupg"), "--kill", "gpg-agent"], check=False, capture_output=True
        )
        if connection.vendor == "postgresql":
            _admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


@pytest.fixture
def sites(tmp_path):
    made = []

    def site(name: str) -> Site:
        made.append(Site(tmp_path, name))
        return made[-1]

    yield site
    for made_site in made:
        made_site.drop()


def test_the_demo_backed_up_is_restored_whole_into_a_fresh_database(sites, tmp_path):
    source = sites("source")
    source.manage("migrate", "--noinput")
    source.manage("seed_demo")
    before = source.summary()
    assert len(before["cases"]) > 100 and len(before["documents"]) > 10
    assert before["audit"]["ok"] and before["audit"]["checked"] > 100
    assert before["document_findings"] == []

    backups = tmp_path / "backups"
    done = source.run("./scripts/backup.sh", BACKUP_DIR=str(backups))
    (backup,) = backups.iterdir()
    assert f"Sauvegarde faite : {backup}" in done.stdout
    manifest = (backup / "MANIFEST.sha256").read_text()
    assert "./database." in manifest and "./media/" in manifest

    restored = sites("restored")
    done = restored.run("./scripts/restore.sh", BACKUP=str(backup))
    assert "Journal d'audit intègre" in done.stdout and "0 manquant(s), 0 modifié(s)" in done.stdout
    after = restored.summary()
    assert after == before  # the same cases, documents with their hashes, and audit chain up to its last hash

    # Restoring again over it is refused: nothing is overwritten.
    refused = restored.run("./scripts/restore.sh", BACKUP=str(backup), check=False)
    assert refused.returncode != 0
    assert "n'est pas vide" in refused.stderr

    # A backup altered after the fact is refused before anything is written.
    document = next(path for path in (backup / "media").rglob("*.pdf"))
    document.write_bytes(document.read_bytes() + b"%")
    fresh = sites("fresh")
    refused = fresh.run("./scripts/restore.sh", BACKUP=str(backup), check=False)
    assert refused.returncode != 0
    assert "ne correspond pas à son manifeste" in refused.stderr
    assert not fresh.media.exists()
