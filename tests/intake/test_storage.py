"""Imports and acknowledgements on object storage: no stored file is reached through a path on disk, so the
whole intake works with a storage whose `path()` raises NotImplementedError (`tests.intake.storage`)."""

import io
import json

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from amiable.intake.models import Batch, BatchSource, ImportJob, ImportJobStatus
from amiable.intake.services import batch_import
from tests.intake.conftest import DATA

EXEMPLE = DATA / "cpam-lot-exemple.csv"
ANOMALIES = DATA / "cpam-lot-anomalies.csv"


@pytest.fixture
def object_storage(settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "tests.intake.storage.ObjectStorage"}}
    with pytest.raises(NotImplementedError):
        default_storage.path("x")
    return default_storage


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def nothing_on_disk(settings) -> bool:
    root = settings.MEDIA_ROOT
    return not root.exists() or not any(root.rglob("*"))


def test_import_and_acknowledgement_on_object_storage(
    reference, gnupg_home, object_storage, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = batch_import(
            creditor=reference.cpam,
            content=EXEMPLE.read_bytes(),
            filename="cpam-lot-exemple.csv",
            source=BatchSource.COMMAND,
            actor=None,
        )

    assert outcome.status == "accepted", outcome.error
    batch = Batch.objects.get()
    number = batch.acknowledgement_number
    acknowledgement = outcome.as_json()["acknowledgement"]
    # No path on object storage: the JSON gives each document's storage name.
    assert acknowledgement == {
        "number": number,
        "pdf": batch.acknowledgement_pdf.name,
        "csv": batch.acknowledgement_csv.name,
        "xlsx": batch.acknowledgement_xlsx.name,
    }
    assert acknowledgement["pdf"].startswith("intake/") and acknowledgement["pdf"].endswith(f"/{number}.pdf")
    assert stored(acknowledgement["pdf"]).startswith(b"%PDF")
    assert stored(acknowledgement["csv"]).startswith(b"\xef\xbb\xbf")
    assert stored(acknowledgement["xlsx"]).startswith(b"PK")
    [message] = mail.outbox
    [(_name, attached, _mimetype)] = message.attachments
    assert attached == stored(acknowledgement["pdf"])
    assert nothing_on_disk(settings)


def test_upload_page_import_and_downloads_on_object_storage(
    client, users, reference, gnupg_home, object_storage, settings, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)
    file = SimpleUploadedFile(ANOMALIES.name, ANOMALIES.read_bytes(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/lots/transmettre/", {"file": file, "structure": ""})

    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == ImportJobStatus.READY, job.outcome  # checked, waiting for the confirmation
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/lots/import/{job.pk}/confirmer/")
    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE, job.outcome
    batch = Batch.objects.get()
    assert job.outcome["acknowledgement"]["pdf"] == batch.acknowledgement_pdf.name
    for kind in ("pdf", "csv", "xlsx"):
        download = client.get(f"/lots/{batch.pk}/accuse-de-reception.{kind}")
        assert download.status_code == 200, kind
        assert b"".join(download.streaming_content) == stored(getattr(batch, f"acknowledgement_{kind}").name)
    assert nothing_on_disk(settings)


def test_command_reports_storage_names_on_object_storage(reference, gnupg_home, object_storage):
    out = io.StringIO()
    call_command("import_claims", str(ANOMALIES), "--creditor", "cpam-paris", stdout=out, stderr=io.StringIO())
    batch = Batch.objects.get()
    assert f"Accusé de réception {batch.acknowledgement_number} : {batch.acknowledgement_pdf.name}" in out.getvalue()

    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("import_claims", str(ANOMALIES), "--creditor", "cpam-paris", "--json", stdout=out)
    assert exit_.value.code == 3  # already received: the first batch's documents are named
    assert json.loads(out.getvalue())["status"] == "duplicate"
