"""A file uploaded from the page is first only read and checked; the person sees the lines accepted, rejected
(with reasons) and duplicated, then confirms — the cases are stored and the acknowledgement issued — or
cancels, and nothing is ever stored. Both are idempotent and audited; the command still imports directly."""

import html

import pytest
from django.urls import reverse

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case
from amiable.core.exceptions import ApplicationError
from amiable.intake.models import Batch, ImportJob, ImportJobStatus
from amiable.intake.services import import_job_cancel, import_job_confirm, import_job_create, import_job_execute
from tests.intake.conftest import DATA

NAME = "cpam-lot-anomalies.csv"  # 40 rows: 22 accepted, 18 rejected of which 4 duplicates


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def checked(reference, users, gnupg_home, media):
    job = import_job_create(
        creditor=reference.cpam, content=(DATA / NAME).read_bytes(), filename=NAME, actor=users.creditor_admin
    )
    import_job_execute(job_id=str(job.pk))
    job.refresh_from_db()
    return job


def test_the_worker_only_checks_an_uploaded_file(checked):
    assert checked.status == ImportJobStatus.READY
    assert (checked.outcome["status"], checked.outcome["rows"]) == ("checked", 40)
    assert (checked.outcome["accepted"], checked.outcome["rejected"]) == (22, 18)
    assert checked.outcome["duplicates"] == 4
    assert checked.outcome["accepted_balance_total"] == "1967.24"
    assert checked.outcome["acknowledgement"] is None
    # Nothing stored but the (still encrypted) file waiting for the confirmation.
    assert not Batch.objects.exists() and not Case.objects.exists()
    assert bytes(checked.staged)
    assert AuditEvent.objects.filter(verb="batch.checked").count() == 1
    assert not AuditEvent.objects.filter(verb="batch.imported").exists()


def test_confirming_imports_and_issues_the_acknowledgement_once(checked, users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        import_job_confirm(job=checked, actor=users.creditor_admin)
    with django_capture_on_commit_callbacks(execute=True):
        import_job_confirm(job=checked, actor=users.creditor_admin)  # a double click

    checked.refresh_from_db()
    batch = Batch.objects.get()
    assert (checked.status, checked.batch) == (ImportJobStatus.DONE, batch)
    assert checked.confirmed_at is not None and bytes(checked.staged) == b""
    assert (batch.accepted_count, batch.rejected_count) == (22, 18)
    assert batch.acknowledgement_number.startswith("AR-")
    assert Case.objects.count() == 22
    assert AuditEvent.objects.filter(verb="batch.confirmed").count() == 1
    assert AuditEvent.objects.filter(verb="batch.imported").count() == 1
    with pytest.raises(ApplicationError, match="déjà confirmé"):
        import_job_cancel(job=checked, actor=users.creditor_admin)


def test_cancelling_stores_nothing_and_erases_the_file(checked, users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        import_job_cancel(job=checked, actor=users.creditor_admin)
        import_job_cancel(job=checked, actor=users.creditor_admin)  # twice: no change

    checked.refresh_from_db()
    assert checked.status == ImportJobStatus.CANCELLED and bytes(checked.staged) == b""
    assert not Batch.objects.exists() and not Case.objects.exists()
    assert AuditEvent.objects.filter(verb="batch.cancelled").count() == 1
    with pytest.raises(ApplicationError, match="a été annulé"):
        import_job_confirm(job=checked, actor=users.creditor_admin)
    # The same file may be sent again: it was never received.
    again = import_job_create(
        creditor=checked.creditor, content=(DATA / NAME).read_bytes(), filename=NAME, actor=users.creditor_admin
    )
    import_job_execute(job_id=str(again.pk))
    again.refresh_from_db()
    assert again.status == ImportJobStatus.READY


def test_a_colleague_limited_to_structures_may_neither_confirm_nor_cancel(checked, users):
    with pytest.raises(ApplicationError):
        import_job_confirm(job=checked, actor=users.csr_only)
    with pytest.raises(ApplicationError):
        import_job_cancel(job=checked, actor=users.csr_only)
    checked.refresh_from_db()
    assert checked.status == ImportJobStatus.READY


def test_a_refused_file_asks_for_no_confirmation(reference, users, gnupg_home, media):
    job = import_job_create(
        creditor=reference.cpam, content=b"rien;de;lisible\n1;2;3\n", filename="x.csv", actor=users.creditor_admin
    )
    import_job_execute(job_id=str(job.pk))
    job.refresh_from_db()

    assert job.status == ImportJobStatus.DONE and job.outcome["status"] == "refused"
    assert AuditEvent.objects.filter(verb="batch.refused").count() == 1
    with pytest.raises(ApplicationError, match="rien à confirmer"):
        import_job_confirm(job=job, actor=users.creditor_admin)


# --- the page ----------------------------------------------------------------------------------------------


def test_job_page_shows_the_result_and_both_buttons(client, checked, users, django_assert_max_num_queries):
    client.force_login(users.creditor_admin)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("intake:job", args=[checked.pk]))

    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "hx-get" not in page  # no polling: the page waits for the person
    assert "<dt>Lignes lues</dt><dd>40</dd>" in page
    assert "22 (solde total 1\u202f967,24\u00a0€)" in page or "22 (solde total 1 967,24 €)" in page
    assert "18, dont 4 doublons" in page
    assert "Centre inconnu" in page or "structure" in page.lower()
    assert "Confirmer et émettre l'accusé de réception" in page
    assert "Annuler ce fichier" in page


def test_confirm_then_the_batch_page(client, checked, users, django_capture_on_commit_callbacks):
    client.force_login(users.creditor_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("intake:job_confirm", args=[checked.pk]))
    assert response.status_code == 302
    batch = Batch.objects.get()
    followed = client.get(response["Location"])
    assert followed.status_code == 302 and followed["Location"] == reverse("intake:batch", args=[batch.pk])
    # A second submit of the same form changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("intake:job_confirm", args=[checked.pk]))
    assert Batch.objects.count() == 1


def test_cancel_from_the_page(client, checked, users):
    client.force_login(users.creditor_admin)

    response = client.post(reverse("intake:job_cancel", args=[checked.pk]))

    page = html.unescape(client.get(response["Location"]).content.decode())
    assert "Fichier annulé : rien n'a été enregistré." in page
    assert "Confirmer et émettre" not in page
    assert ImportJob.objects.get().status == ImportJobStatus.CANCELLED
    assert not Batch.objects.exists()


@pytest.mark.parametrize("action", ["intake:job_confirm", "intake:job_cancel"])
def test_another_persons_job_is_404(client, checked, users, action):
    client.force_login(users.other_admin)

    assert client.post(reverse(action, args=[checked.pk])).status_code == 404
    checked.refresh_from_db()
    assert checked.status == ImportJobStatus.READY


def test_a_checked_file_nobody_decides_on_is_cancelled_after_a_week(checked, users):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from amiable.intake.services import import_jobs_expire

    assert import_jobs_expire(now=checked.created_at + timedelta(days=6)) == 0  # still within its week
    assert any(isinstance(value, list | dict) for value in checked.outcome.values())  # the rejected lines
    call_command("expire_import_jobs", "--days", "0")
    checked.refresh_from_db()
    assert checked.status == ImportJobStatus.CANCELLED and bytes(checked.staged) == b""
    # The counts stay for the record; the lines themselves (names, amounts) are gone.
    assert (checked.outcome["accepted"], checked.outcome["rejected"]) == (22, 18)
    assert not any(isinstance(value, list | dict) for value in checked.outcome.values())
    assert AuditEvent.objects.filter(verb="batch.expired", actor=None).count() == 1
    assert import_jobs_expire(now=timezone.now() + timedelta(days=30)) == 0  # nothing twice
    assert not Batch.objects.exists() and not Case.objects.exists()
    with pytest.raises(ApplicationError, match="a été annulé"):
        import_job_confirm(job=checked, actor=users.creditor_admin)
