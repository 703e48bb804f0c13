"""An import whose worker died (killed, machine restarted) must not stay « En cours » for ever with its staged
file kept: the worker writes a heartbeat as it progresses; a running job silent for longer than the lease is
failed with a French reason, its staged file erased, audited by the system; nothing of it was stored, and the
file can be transmitted again."""

import html
import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case
from amiable.intake import pipeline, services
from amiable.intake.models import Batch, ImportJob, ImportJobStatus
from amiable.intake.services import (
    IMPORT_LEASE,
    import_job_confirm,
    import_job_create,
    import_job_execute,
    import_jobs_fail_stale,
    import_jobs_requeue_lost,
)
from tests.intake.conftest import DATA

NAME = "cpam-lot-anomalies.csv"  # 40 rows: 22 accepted


class WorkerKilled(BaseException):
    """Stands for the worker process dying: no `except Exception` of the application runs."""


@pytest.fixture
def uploaded(reference, users, gnupg_home):
    return import_job_create(
        creditor=reference.cpam, content=(DATA / NAME).read_bytes(), filename=NAME, actor=users.creditor_admin
    )


@pytest.fixture
def confirmed(uploaded, users):
    """A checked file the person confirmed; its import is queued (not run: the test runs it)."""
    import_job_execute(job_id=str(uploaded.pk))
    uploaded.refresh_from_db()
    import_job_confirm(job=uploaded, actor=users.creditor_admin)  # on_commit not run: the job waits
    uploaded.refresh_from_db()
    assert uploaded.status == ImportJobStatus.PENDING
    return uploaded


def kill_during_write(monkeypatch, after_chunks: int = 0):
    real = pipeline.write_chunk
    written = []

    def write_chunk(rows, *, destination):
        if len(written) >= after_chunks:
            raise WorkerKilled
        written.append(len(rows))
        real(rows, destination=destination)

    monkeypatch.setattr(pipeline, "write_chunk", write_chunk)


def test_the_worker_writes_a_heartbeat_when_it_starts_and_as_it_progresses(uploaded, monkeypatch):
    monkeypatch.setattr(services, "HEARTBEAT_EVERY", timedelta(0))
    beats = []
    real = services._heartbeat
    monkeypatch.setattr(services, "_heartbeat", lambda job_id, now: (beats.append(now), real(job_id, now)))

    import_job_execute(job_id=str(uploaded.pk))

    uploaded.refresh_from_db()
    assert uploaded.status == ImportJobStatus.READY
    assert beats and uploaded.heartbeat_at == beats[-1]


def test_an_import_killed_while_writing_is_failed_on_its_page_and_nothing_is_stored(
    confirmed, users, client, monkeypatch, time_machine
):
    kill_during_write(monkeypatch)
    with pytest.raises(WorkerKilled):
        import_job_execute(job_id=str(confirmed.pk))
    confirmed.refresh_from_db()
    assert confirmed.status == ImportJobStatus.RUNNING  # what a dead worker leaves behind
    assert not Batch.objects.exists() and not Case.objects.exists()
    client.force_login(users.creditor_admin)
    url = reverse("intake:job", args=[confirmed.pk])

    time_machine.move_to(timezone.now() + IMPORT_LEASE - timedelta(seconds=30))
    assert "Import interrompu" not in client.get(url).content.decode()  # within the lease: still running
    time_machine.move_to(timezone.now() + timedelta(minutes=1))
    page = html.unescape(client.get(url).content.decode())

    assert "Import interrompu : rien n'a été enregistré." in page
    assert f"L'import du fichier « {NAME} » s'est interrompu : le traitement en arrière-plan s'est arrêté" in page
    assert "transmettez-le à nouveau" in page and "Transmettre à nouveau ce fichier" in page
    confirmed.refresh_from_db()
    assert confirmed.status == ImportJobStatus.FAILED
    assert bytes(confirmed.staged) == b"" and confirmed.finished_at is not None
    assert confirmed.outcome["status"] == "interrupted"
    event = AuditEvent.objects.get(verb="batch.interrupted")
    assert event.actor is None and event.creditor_pk == confirmed.creditor_id
    assert event.after["confirmed"] is True and event.after["reason"] == confirmed.outcome["error"]
    assert not Batch.objects.exists() and not Case.objects.exists()
    # Once only: the page asked again, the daily run, change nothing.
    client.get(url)
    assert import_jobs_fail_stale(now=timezone.now() + timedelta(days=1)) == 0
    assert AuditEvent.objects.filter(verb="batch.interrupted").count() == 1


def test_the_daily_run_fails_the_jobs_nobody_looks_at(uploaded, monkeypatch):
    ImportJob.objects.filter(pk=uploaded.pk).update(
        status=ImportJobStatus.RUNNING, heartbeat_at=timezone.now() - IMPORT_LEASE - timedelta(seconds=1)
    )
    fresh = import_job_create(
        creditor=uploaded.creditor,
        content=b"reference;nom;solde\nR1;Dupont;1,00\n",
        filename="b.csv",
        actor=uploaded.requested_by,
    )
    ImportJob.objects.filter(pk=fresh.pk).update(status=ImportJobStatus.RUNNING, heartbeat_at=timezone.now())

    call_command("expire_import_jobs")

    uploaded.refresh_from_db()
    fresh.refresh_from_db()
    assert (uploaded.status, bytes(uploaded.staged)) == (ImportJobStatus.FAILED, b"")
    assert fresh.status == ImportJobStatus.RUNNING and bytes(fresh.staged)  # its worker is alive


def test_a_worker_that_outlived_its_lease_stores_nothing_once_its_job_was_failed(confirmed, monkeypatch):
    """The sweep failed the job while its worker, slow but alive, was still validating: when that worker reaches
    its write transaction, it finds the job failed and writes nothing (the person was told to send it again)."""
    real_validate = pipeline.validate

    def validate(*args, **kwargs):
        validated = real_validate(*args, **kwargs)
        assert import_jobs_fail_stale(now=timezone.now() + IMPORT_LEASE * 2) == 1
        return validated

    monkeypatch.setattr(services.pipeline, "validate", validate)

    import_job_execute(job_id=str(confirmed.pk))

    confirmed.refresh_from_db()
    assert confirmed.status == ImportJobStatus.FAILED and confirmed.outcome["status"] == "interrupted"
    assert not Batch.objects.exists() and not Case.objects.exists()
    assert not AuditEvent.objects.filter(verb="batch.imported").exists()


def test_an_interrupted_file_can_be_transmitted_again(
    confirmed, users, monkeypatch, django_capture_on_commit_callbacks
):
    kill_during_write(monkeypatch)
    with pytest.raises(WorkerKilled):
        import_job_execute(job_id=str(confirmed.pk))
    assert import_jobs_fail_stale(now=timezone.now() + IMPORT_LEASE * 2) == 1
    monkeypatch.undo()

    again = import_job_create(
        creditor=confirmed.creditor, content=(DATA / NAME).read_bytes(), filename=NAME, actor=users.creditor_admin
    )
    import_job_execute(job_id=str(again.pk))
    again.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        import_job_confirm(job=again, actor=users.creditor_admin)

    again.refresh_from_db()
    assert again.status == ImportJobStatus.DONE and again.batch is not None
    assert Case.objects.count() == 22


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers: no sweep while a write runs")
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_write_transaction_runs_is_never_failed(reference, users, gnupg_home, monkeypatch):
    """Its heartbeat is old (the write takes long), but its worker is alive and holds the job row: the sweep of
    another process skips it, and the import ends done."""
    second = import_job_create(
        creditor=reference.cpam, content=(DATA / NAME).read_bytes(), filename=NAME, actor=users.creditor_admin
    )
    # Checked and confirmed: its import is the next thing its worker runs.
    ImportJob.objects.filter(pk=second.pk).update(status=ImportJobStatus.PENDING, confirmed_at=timezone.now())
    writing, release = threading.Event(), threading.Event()
    real = pipeline.write_chunk

    def write_chunk(rows, *, destination):
        real(rows, destination=destination)
        writing.set()
        release.wait(30)

    monkeypatch.setattr(pipeline, "write_chunk", write_chunk)
    errors = []

    def worker():
        try:
            import_job_execute(job_id=str(second.pk))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert writing.wait(60)
        assert import_jobs_fail_stale(now=timezone.now() + IMPORT_LEASE * 10) == 0
    finally:
        release.set()
        thread.join(60)

    assert errors == []
    second.refresh_from_db()
    assert second.status == ImportJobStatus.DONE and second.batch is not None
    assert not AuditEvent.objects.filter(verb="batch.interrupted").exists()


# --- a job whose task was lost -------------------------------------------------------------------------


@pytest.fixture
def queue(settings):
    """The database queue of production, instead of the tests' immediate one: queued tasks stay visible."""
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    return DBTaskResult.objects


def test_a_confirmed_job_whose_task_was_lost_is_queued_again_from_its_page(
    confirmed, users, client, time_machine, queue, django_capture_on_commit_callbacks
):
    """The process stopped between the confirmation's commit and the queueing: the job would wait « En
    attente » for ever. Past the lease its page queues it again, once; the worker then imports it."""
    client.force_login(users.creditor_admin)
    url = reverse("intake:job", args=[confirmed.pk])
    time_machine.move_to(timezone.now() + IMPORT_LEASE - timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        client.get(url)
    assert not queue.exists()  # within the lease: nothing queued

    time_machine.move_to(timezone.now() + timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        page = html.unescape(client.get(url).content.decode())
    assert "il a été remis dans la file d'attente" in page
    assert queue.get().args_kwargs["kwargs"] == {"job_id": str(confirmed.pk)}
    event = AuditEvent.objects.get(verb="batch.requeued")
    assert event.actor is None and event.after["confirmed"] is True and event.after["waited_minutes"] == 5
    # Once per lease: the page polled again and the daily run queue nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(url)
        call_command("expire_import_jobs", stdout=io.StringIO())
    assert queue.count() == 1

    import_job_execute(job_id=str(confirmed.pk))  # what the worker runs for the queued task
    confirmed.refresh_from_db()
    assert confirmed.status == ImportJobStatus.DONE and Batch.objects.count() == 1
    assert import_jobs_requeue_lost(now=timezone.now() + timedelta(days=1)) == 0


def test_the_daily_run_queues_again_an_unchecked_upload_left_waiting(
    uploaded, queue, django_capture_on_commit_callbacks
):
    assert import_jobs_requeue_lost(now=timezone.now() + IMPORT_LEASE - timedelta(seconds=1)) == 0
    later = timezone.now() + IMPORT_LEASE + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_jobs_requeue_lost(now=later) == 1
    assert queue.count() == 1
    assert import_jobs_requeue_lost(now=later + timedelta(seconds=1)) == 0  # queued again: waits a new lease
    assert import_jobs_requeue_lost(now=later + IMPORT_LEASE + timedelta(seconds=1)) == 1


def test_a_job_claimed_by_its_worker_is_not_queued_again(uploaded):
    import_job_execute(job_id=str(uploaded.pk))  # checked: « À confirmer »
    assert import_jobs_requeue_lost(now=timezone.now() + timedelta(days=1)) == 0
    assert not AuditEvent.objects.filter(verb="batch.requeued").exists()
