"""Two imports of the same creditor at once whose files share references: the one that writes second meets the
first one's cases on the unique open reference. It must end cleanly — written again with those lines rejected as
already open, or refused with a French message — never with an `IntegrityError`, and never half-written."""

import html
import json
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case
from amiable.intake import pipeline, services
from amiable.intake.models import Batch, BatchSource
from amiable.intake.services import batch_import, import_job_confirm, import_job_create, import_job_execute

HEADER = "reference;structure;nom;solde"


def batch_file(*references: str, name: str = "Dupont") -> bytes:
    lines = [HEADER, *(f"{reference};CSR;{name};10,00" for reference in references)]
    return ("\n".join(lines) + "\n").encode()


def do_import(creditor, content: bytes, filename: str = "lot.csv"):
    return batch_import(creditor=creditor, content=content, filename=filename, source=BatchSource.COMMAND, actor=None)


@pytest.fixture
def overtaken(monkeypatch, reference):
    """Makes the next import overtaken: right after it validated its file (the open references read), each file
    given is imported by another import, which stores its cases first — as a concurrent import would."""
    others: list[bytes] = []
    real_validate = pipeline.validate
    running: list[bool] = []

    def validate(*args, **kwargs):
        validated = real_validate(*args, **kwargs)
        if others and not running:  # the other import's own validation does not start a third one
            running.append(True)
            try:
                assert do_import(reference.cpam, others.pop(0), filename="autre.csv").status == "accepted"
            finally:
                running.clear()
        return validated

    monkeypatch.setattr(services.pipeline, "validate", validate)
    return others


def test_an_import_overtaken_once_is_written_again_without_the_overlapping_lines(reference, overtaken):
    overtaken.append(batch_file("R1", "R2", "R3"))

    outcome = do_import(reference.cpam, batch_file("R2", "R3", "R4", "R5"))

    assert outcome.status == "accepted", outcome.error
    assert (outcome.rows, outcome.accepted, outcome.rejected) == (4, 2, 2)
    assert {row["reference"] for row in outcome.rejected_rows} == {"R2", "R3"}
    reasons = {error["reason"] for row in outcome.rejected_rows for error in row["errors"]}
    assert reasons == {"already_open"}
    assert sorted(Case.objects.values_list("reference", flat=True)) == ["R1", "R2", "R3", "R4", "R5"]
    assert Batch.objects.count() == 2


def test_an_import_overtaken_twice_is_refused_whole_with_a_french_message(reference, overtaken):
    overtaken.extend([batch_file("R2"), batch_file("R4", name="Martin")])

    outcome = do_import(reference.cpam, batch_file("R2", "R3", "R4", "R5"))

    assert outcome.status == "refused"
    assert outcome.error.startswith(
        "Un autre import, au même moment, a ouvert des dossiers portant des références de ce fichier (R4) : "
        "fichier refusé, rien n'a été enregistré. Transmettez-le à nouveau"
    )
    assert sorted(Case.objects.values_list("reference", flat=True)) == ["R2", "R4"]  # the two others' only
    assert Batch.objects.count() == 2
    refusal = AuditEvent.objects.get(verb="batch.refused")
    assert refusal.after["reason"] == outcome.error


def test_the_command_reports_an_overtaken_import_as_a_refusal(reference, overtaken, tmp_path, capsys):
    overtaken.extend([batch_file("R2"), batch_file("R4", name="Martin")])
    path = tmp_path / "lot.csv"
    path.write_bytes(batch_file("R2", "R3", "R4", "R5"))

    with pytest.raises(SystemExit) as exit_status:
        call_command("import_claims", str(path), "--creditor", reference.cpam.slug, "--json")

    assert exit_status.value.code == 2
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "refused" and result["batch"] is None
    assert result["error"].startswith("Un autre import, au même moment, a ouvert des dossiers")


def test_the_command_accepts_an_import_overtaken_once(reference, overtaken, tmp_path, capsys):
    overtaken.append(batch_file("R1", "R2"))
    path = tmp_path / "lot.csv"
    path.write_bytes(batch_file("R2", "R3"))

    call_command("import_claims", str(path), "--creditor", reference.cpam.slug, "--json")

    result = json.loads(capsys.readouterr().out)
    assert (result["status"], result["accepted"], result["rejected"]) == ("accepted", 1, 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers at BEGIN IMMEDIATE")
@pytest.mark.django_db(transaction=True)
def test_two_real_concurrent_imports_with_shared_references(reference, monkeypatch):
    """Two threads, each on its own connection: both validate before either writes (a barrier), then both
    write; PostgreSQL makes the second wait on the unique open reference, then fail it."""
    both_validated = threading.Barrier(2, timeout=30)
    real_validate = pipeline.validate
    first_pass: set[int] = set()

    def validate(*args, **kwargs):
        validated = real_validate(*args, **kwargs)
        thread = threading.get_ident()
        if thread not in first_pass:  # the retry does not wait
            first_pass.add(thread)
            both_validated.wait()
        return validated

    monkeypatch.setattr(services.pipeline, "validate", validate)
    files = {"a": batch_file("R1", "R2", "R3"), "b": batch_file("R2", "R3", "R4", name="Martin")}
    outcomes, errors = {}, []

    def run(name):
        try:
            outcomes[name] = do_import(reference.cpam, files[name], filename=f"{name}.csv")
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert {name: outcome.status for name, outcome in outcomes.items()} == {"a": "accepted", "b": "accepted"}
    assert sorted(outcome.accepted for outcome in outcomes.values()) == [1, 3]  # the second lost R2 and R3
    assert sorted(Case.objects.values_list("reference", flat=True)) == ["R1", "R2", "R3", "R4"]
    assert Batch.objects.count() == 2


def test_the_page_tells_an_overtaken_import_was_refused(
    reference, users, client, overtaken, gnupg_home, django_capture_on_commit_callbacks
):
    job = import_job_create(
        creditor=reference.cpam, content=batch_file("R2", "R3", "R4"), filename="lot.csv", actor=users.creditor_admin
    )
    import_job_execute(job_id=str(job.pk))  # the check, before anyone else imports
    overtaken.extend([batch_file("R2"), batch_file("R4", name="Martin")])
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        import_job_confirm(job=job, actor=users.creditor_admin)
    client.force_login(users.creditor_admin)

    page = html.unescape(client.get(reverse("intake:job", args=[job.pk])).content.decode())

    assert "Fichier refusé : rien n'a été enregistré." in page
    assert "Un autre import, au même moment, a ouvert des dossiers portant des références de ce fichier (R4)" in page
    job.refresh_from_db()
    assert job.batch is None and bytes(job.staged) == b""
    assert sorted(Case.objects.values_list("reference", flat=True)) == ["R2", "R4"]


def test_an_import_kept_waiting_by_another_ones_write_lock_is_refused_cleanly(reference, monkeypatch, tmp_path, capsys):
    """SQLite has a single writer: an import that cannot get the write lock within the busy timeout (another
    import is writing a large batch) is refused — exit status 2, a French message — not a traceback."""
    from django.db import OperationalError

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "sequence_next", locked)  # the first write of the import's transaction
    path = tmp_path / "lot.csv"
    path.write_bytes(batch_file("R1", "R2"))

    with pytest.raises(SystemExit) as exit_status:
        call_command("import_claims", str(path), "--creditor", reference.cpam.slug, "--json")

    assert exit_status.value.code == 2
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "refused"
    assert result["error"] == (
        "Un autre import est en cours d'enregistrement et occupe la base de données : fichier refusé, rien n'a été "
        "enregistré. Transmettez-le à nouveau dans quelques minutes."
    )
    assert not Batch.objects.exists() and not Case.objects.exists()
    assert AuditEvent.objects.filter(verb="batch.refused").count() == 1
