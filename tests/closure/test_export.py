"""The end-of-contract export (C26): every case read back from the ZIP (CSV and JSON) with its amounts, the
checksums verified, the documents and the readable history inside; streamed without a query per row."""

import csv
import hashlib
import io
import json
import os
import stat
import zipfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from amiable.cases.models import Case
from amiable.cases.services import comment_add
from amiable.closure.models import CreditorExport
from amiable.closure.services_handover import creditor_export, creditor_export_verify
from amiable.payments.models import Payment
from tests.factories import make_case


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def _money(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def test_the_export_holds_every_case_its_documents_and_history_with_checksums(world, tmp_path, capsys):
    out = tmp_path / "remise"
    call_command("export_creditor", "--creditor", "cpam-paris", "--output", str(out), "--json")
    printed = json.loads(capsys.readouterr().out)
    made = CreditorExport.objects.get()
    assert printed["reference"] == made.reference and made.reference.startswith("EXP-cpam-paris-20261013-")
    assert printed["path"] == made.path and Path(made.path).parent == out.resolve()
    assert made.verified_at is not None and made.case_count == 2
    assert hashlib.sha256(Path(made.path).read_bytes()).hexdigest() == made.sha256 == printed["sha256"]

    members = _members(made.path)
    # SHA256SUMS lists every other file with its hash; the manifest agrees, with sizes.
    sums = dict(reversed(line.split("  ", 1)) for line in members["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(members) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256(members[name]).hexdigest() == digest, name
    manifest = json.loads(members["manifest.json"])
    assert manifest["creditor"]["slug"] == "cpam-paris" and manifest["reference"] == made.reference
    for entry in manifest["files"]:
        assert (len(members[entry["path"]]), sums[entry["path"]]) == (entry["size"], entry["sha256"])

    # Every case of the creditor, and none of the other's, read back from the CSV and the JSON.
    cases = {c.pk: c for c in Case.objects.filter(creditor=world.case.creditor)}
    from_csv = {int(row["id"]): row for row in _csv(members["tables/dossiers.csv"])}
    from_json = {row["id"]: row for row in json.loads(members["tables/dossiers.json"])}
    assert set(from_csv) == set(from_json) == set(cases) and world.other_case.pk not in from_json
    assert manifest["counts"]["dossiers"] == len(cases)
    for pk, case in cases.items():
        for name in ("principal_amount", "claimed_amount", "paid_amount", "balance"):
            assert _money(from_csv[pk][name]) == getattr(case, name) == Decimal(from_json[pk][name]), name
        assert from_json[pk]["reference"] == case.reference
    assert from_json[world.case.pk]["debtor__last_name"] == "Quaxorly"
    payments = json.loads(members["tables/paiements.json"])
    assert [(p["id"], Decimal(p["amount"])) for p in payments] == list(
        Payment.objects.filter(case__creditor=world.case.creditor).values_list("pk", "amount")
    )
    for table in ("coordonnees", "courriers", "messages", "appels", "commentaires", "recus", "reversements",
                  "lignes_reversements", "factures", "lignes_factures", "ecritures", "lignes_ecritures"):  # fmt: skip
        assert manifest["counts"][table] >= 1, table
        assert len(json.loads(members[f"tables/{table}.json"])) == manifest["counts"][table]

    # The stored documents, byte for byte.
    documents = [name for name in members if name.startswith("documents/")]
    for prefix in ("documents/letters/", "documents/receipts/", "documents/remittances/", "documents/invoices/"):
        assert any(name.startswith(prefix) for name in documents), prefix
    assert all(members[name][:4] == b"%PDF" for name in documents if name.endswith(".pdf"))

    # The history, its personal data readable, the other creditor's left out.
    history = json.loads(members["historique/historique.json"])
    comments = [e for e in history if e["verb"] == "comment.added"]
    assert comments and "snarfibule" in comments[0]["after"]["body"]
    assert any(e["verb"] == "debtor.created" and e["after"]["last_name"] == "Quaxorly" for e in history)
    lifted = [e for e in history if e["verb"] == "case.suspension_lifted"]
    assert lifted and lifted[0]["after"]["reason"] == "Levée plixatrone"
    assert not any(e["case_pk"] == world.other_case.pk for e in history)
    assert len(_csv(members["historique/historique.csv"])) == len(history) == manifest["counts"]["historique"]

    # The XLSX index lists every file.
    sheet = load_workbook(io.BytesIO(members["index.xlsx"]), read_only=True)["Index"]
    listed = {row[0] for row in sheet.iter_rows(min_row=3, values_only=True) if row and row[0]}
    assert {entry["path"] for entry in manifest["files"]} - {"index.xlsx"} <= listed


def test_the_export_reads_in_chunks_whatever_the_number_of_cases(reference, users, tmp_path):
    """No query per case: the queries of an export of 2 cases and of 8 cases are the same."""

    def queries() -> int:
        # Each export a minute after the last: two in the same second take a suffixed reference (one query more).
        queries.minutes += 1
        later = timezone.now() + timedelta(minutes=queries.minutes)
        with time_machine.travel(later), CaptureQueriesContext(connection) as captured:
            creditor_export(creditor=reference.cpam, actor=None, output_dir=tmp_path)
        return len(captured)

    queries.minutes = 0

    for n in range(2):
        case = make_case(structure=reference.csr)
        comment_add(case=case, author=users.agent, body=f"Note {n}")
    few = queries()
    for n in range(6):
        case = make_case(structure=reference.csr)
        comment_add(case=case, author=users.agent, body=f"Note {n}")
    assert queries() == few
    assert CreditorExport.objects.order_by("-pk").first().case_count == 8


def test_the_export_file_is_readable_by_the_application_alone(reference, tmp_path):
    make_case(structure=reference.csr)
    previous = os.umask(0o022)
    try:
        made = creditor_export(creditor=reference.cpam, actor=None, output_dir=tmp_path / "exports")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(made.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "exports").st_mode) == 0o700


def test_a_tampered_export_fails_its_verification(reference, users, tmp_path):
    make_case(structure=reference.csr)
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin, output_dir=tmp_path)
    assert made.verified_at is not None
    Path(made.path).write_bytes(Path(made.path).read_bytes()[:-10])
    problems = creditor_export_verify(export=made, actor=users.agency_admin)
    assert problems and "empreinte" in problems[0]
    made.refresh_from_db()
    assert made.verified_at is None


def test_an_unknown_creditor_is_refused(db):
    with pytest.raises(CommandError, match="Créancier inconnu : « personne »"):
        call_command("export_creditor", "--creditor", "personne")


def test_an_export_that_cannot_be_written_is_refused_in_french_naming_the_place(reference, tmp_path):
    occupied = tmp_path / "occupé"
    occupied.write_text("un fichier, pas un dossier")
    with pytest.raises(CommandError, match="Export impossible : le fichier « .*occupé.* » ne peut pas être écrit"):
        call_command("export_creditor", "--creditor", "cpam-paris", "--output", str(occupied))
    assert not CreditorExport.objects.exists()
