"""Transmitting a batch in a real browser: the upload lands on the batch page with its acknowledgement,
and a running import's page follows the progress by htmx polling until it moves to the result."""

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from amiable.intake.models import Batch, BatchSource, ImportJob, ImportJobStatus
from amiable.intake.services import PROGRESS_KEY, batch_import
from tests.browser.test_shell import _axe_serious, _login

pytestmark = pytest.mark.django_db(transaction=True)
DATA = Path(__file__).resolve().parent.parent / "data"


def test_creditor_admin_uploads_a_batch_and_reaches_its_acknowledgement(page, users, gnupg_home):
    _login(page, users.creditor_admin.email)
    page.get_by_role("link", name="Lots", exact=True).click()
    page.get_by_role("link", name="Transmettre un lot").click()
    assert _axe_serious(page) == []
    page.get_by_label("Fichier de créances").set_input_files(str(DATA / "cpam-lot-virgule.csv"))
    page.get_by_role("button", name="Transmettre").click()
    # The file is read and checked first: the result waits for the confirmation, nothing is stored yet.
    confirm = page.get_by_role("button", name="Confirmer et émettre l'accusé de réception")
    expect(confirm).to_be_visible(timeout=10000)
    assert "Centre inconnu" in page.locator("#import-progress").inner_text()
    assert page.get_by_role("button", name="Annuler ce fichier").is_visible()
    assert not Batch.objects.exists()
    assert _axe_serious(page) == []
    confirm.click()
    page.wait_for_url(lambda url: re.fullmatch(r"/lots/\d+/", urlparse(url).path) is not None)
    batch = Batch.objects.get()
    assert page.get_by_role("heading", level=1).inner_text() == f"Lot {batch.number}"
    lead = page.locator(".lead").inner_text()
    assert "22 créances prises en charge pour 2 208,36 €" in lead.replace("\u202f", " ").replace("\u00a0", " ")
    assert "3 lignes rejetées sur 25" in lead
    assert page.get_by_role("link", name="Accusé de réception (PDF)").is_visible()
    assert "Centre inconnu" in page.get_by_role("region", name="Lignes rejetées (3)").inner_text()
    assert _axe_serious(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Accusé de réception (PDF)").click()
    assert download.value.suggested_filename == f"{batch.acknowledgement_number}.pdf"
    # The batch lists the cases it opened.
    assert page.get_by_role("region", name="Dossiers ouverts par ce lot (22)").is_visible()
    assert page.console_errors == []


def test_creditor_admin_cancels_a_file_and_nothing_is_stored(page, users, gnupg_home):
    _login(page, users.creditor_admin.email)
    page.goto("/lots/transmettre/")
    page.get_by_label("Fichier de créances").set_input_files(str(DATA / "cpam-lot-anomalies.csv"))
    page.get_by_role("button", name="Transmettre").click()
    cancel = page.get_by_role("button", name="Annuler ce fichier")
    expect(cancel).to_be_visible(timeout=10000)
    cancel.click()
    expect(page.get_by_text("Fichier annulé : rien n'a été enregistré.")).to_be_visible()
    assert not Batch.objects.exists()
    assert ImportJob.objects.get().status == ImportJobStatus.CANCELLED


def test_running_import_page_polls_its_progress_then_shows_the_batch(page, reference, users, gnupg_home):
    done = batch_import(
        creditor=reference.cpam,
        content=(DATA / "cpam-lot-excel.xlsx").read_bytes(),
        filename="cpam-lot-excel.xlsx",
        source=BatchSource.CREDITOR_UPLOAD,
        actor=users.creditor_admin,
    )
    job = ImportJob.objects.create(
        creditor=reference.cpam,
        source=BatchSource.CREDITOR_UPLOAD,
        requested_by=users.creditor_admin,
        filename="gros-lot.csv",
        status=ImportJobStatus.RUNNING,
    )
    cache.set(PROGRESS_KEY.format(job.pk), {"phase": "enregistrement", "done": 500, "total": 1000})
    _login(page, users.creditor_admin.email)
    page.goto(f"/lots/import/{job.pk}/")
    progress = page.locator("progress")
    assert progress.get_attribute("value") == "50"
    assert "500 lignes sur 1000" in page.locator("#progress-label").inner_text()
    assert _axe_serious(page) == []

    cache.set(PROGRESS_KEY.format(job.pk), {"phase": "enregistrement", "done": 900, "total": 1000})
    expect(page.locator("progress")).to_have_attribute("value", "90", timeout=5000)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJobStatus.DONE, batch=done.batch)
    page.wait_for_url(f"**/lots/{done.batch.pk}/", timeout=5000)
    assert page.get_by_role("heading", level=1).inner_text() == f"Lot {done.batch.number}"
    assert page.console_errors == []
