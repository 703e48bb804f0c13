"""The intake pages: transmitting a batch, following its import, the batch list and page, and downloading the
acknowledgement documents, with tenant isolation (S2) on every URL of `amiable.intake.urls`."""

import html
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, reverse

from amiable.cases.models import Case
from amiable.intake import urls as intake_urls
from amiable.intake.models import Batch, BatchSource, ImportJob, ImportJobStatus
from amiable.intake.services import batch_import
from tests.factories import make_user
from tests.intake.conftest import DATA

UPLOAD = "/lots/transmettre/"
JOB_URL = re.compile(r"^/lots/import/([0-9a-f-]{36})/$")
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def sample(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (DATA / name).read_bytes(), content_type="application/octet-stream")


def upload(client, capture, name="cpam-lot-anomalies.csv", *, file=None, **data):
    """POST a file to the upload page, running the queued import (immediate task backend) on commit."""
    with capture(execute=True):
        response = client.post(UPLOAD, {"file": file or sample(name), "structure": "", **data})
    return response


def upload_and_follow(client, capture, name="cpam-lot-anomalies.csv", *, confirm=True, **data):
    """Upload a file and, once it is checked, confirm it as the person would on the job page."""
    response = upload(client, capture, name, **data)
    assert response.status_code == 302, text_of(response)
    match = JOB_URL.match(response["Location"])
    assert match, response["Location"]
    job = ImportJob.objects.get(pk=match.group(1))
    if confirm and job.status == ImportJobStatus.READY:
        with capture(execute=True):
            confirmed = client.post(reverse("intake:job_confirm", args=[job.pk]))
        assert confirmed.status_code == 302, text_of(confirmed)
        job.refresh_from_db()
    return job, response


def import_for(creditor, name="cpam-lot-anomalies.csv", **kwargs) -> Batch:
    content = (DATA / name).read_bytes()
    outcome = batch_import(
        creditor=creditor, content=content, filename=name, source=BatchSource.COMMAND, actor=None, **kwargs
    )
    assert outcome.status == "accepted", outcome.error
    return outcome.batch


def batch_urls(batch: Batch) -> list[str]:
    return [reverse("intake:batch", args=[batch.pk])] + [
        reverse("intake:document", args=[batch.pk, kind]) for kind in ("pdf", "csv", "xlsx")
    ]


# --- the upload page -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["creditor_admin", "collaborator", "approver"])
def test_upload_page_for_creditor_users(client, users, role):
    client.force_login(getattr(users, role))

    response = client.get(UPLOAD)

    assert response.status_code == 200
    page = text_of(response)
    assert '<html lang="fr">' in page
    assert "Transmettre un lot de créances" in page
    assert "Fichier de créances" in page
    assert 'type="file"' in page
    assert 'name="creditor"' not in page  # a creditor user uploads for their own creditor only
    assert "Centre Autre" not in page  # nor picks another creditor's structure


def test_upload_page_for_agency_users_lets_them_choose_the_creditor(client, users, reference):
    client.force_login(users.agent)

    page = text_of(client.get(UPLOAD))

    assert "Fichier de créances" in page
    assert 'name="creditor"' in page
    assert reference.cpam.name in page
    assert reference.other.name in page


def test_structure_limited_user_may_not_upload(client, users, gnupg_home, media, django_capture_on_commit_callbacks):
    client.force_login(users.csr_only)

    get = client.get(UPLOAD)
    post = upload(client, django_capture_on_commit_callbacks)

    assert get.status_code == 403
    assert post.status_code == 403
    assert ImportJob.objects.count() == 0
    assert Batch.objects.count() == 0


def test_anonymous_visitor_is_sent_to_the_login_page(client, reference, gnupg_home, media):
    batch = import_for(reference.cpam)
    urls = ["/lots/", UPLOAD, f"/lots/import/{uuid.uuid4()}/", *batch_urls(batch)]

    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/connexion/?next="), url


# --- upload, import, batch page, documents -----------------------------------------------------------------


def test_creditor_upload_runs_the_import_and_leads_to_the_batch_page(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)

    job, response = upload_and_follow(client, django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE
    assert job.requested_by == users.creditor_admin
    assert job.staged == b""  # nothing of the file kept once imported
    batch = Batch.objects.get()
    assert job.batch == batch
    assert batch.creditor == reference.cpam
    assert batch.source == BatchSource.CREDITOR_UPLOAD
    assert batch.received_by == users.creditor_admin
    assert batch.filename == "cpam-lot-anomalies.csv"
    assert Case.objects.count() == 22

    followed = client.get(response["Location"])
    assert followed.status_code == 302
    assert followed["Location"] == f"/lots/{batch.pk}/"

    page = client.get(followed["Location"])
    assert page.status_code == 200
    content = text_of(page)
    assert f"Lot {batch.number}" in content
    assert re.search(r"22 créances prises en charge pour 1\s967,24\s€", content.replace("\u202f", " "))
    assert "18 lignes rejetées sur 40" in content
    assert batch.acknowledgement_number in content
    for kind in ("pdf", "csv", "xlsx"):
        assert f'href="/lots/{batch.pk}/accuse-de-reception.{kind}"' in content
    assert "Lignes rejetées (18)" in content
    assert "solde illisible : ce n'est pas un montant" in content
    assert "Signalements sur les lignes prises en charge" in content


def test_documents_download_for_the_creditor_and_agency_staff(client, users, reference, gnupg_home, media):
    batch = import_for(reference.cpam)

    for role in ("creditor_admin", "collaborator", "approver", "agent", "supervisor", "agency_admin"):
        client.force_login(getattr(users, role))
        for kind, content_type in CONTENT_TYPES.items():
            response = client.get(f"/lots/{batch.pk}/accuse-de-reception.{kind}")
            assert response.status_code == 200, (role, kind)
            assert response["Content-Type"].startswith(content_type), (role, kind)
            assert f'filename="{batch.acknowledgement_number}.{kind}"' in response["Content-Disposition"]
            body = b"".join(response.streaming_content)
            assert body == (media / getattr(batch, f"acknowledgement_{kind}").name).read_bytes()
        assert client.get(f"/lots/{batch.pk}/").status_code == 200, role


def test_unknown_document_kind_is_404(client, users, reference, gnupg_home, media):
    batch = import_for(reference.cpam)
    client.force_login(users.creditor_admin)

    assert client.get(f"/lots/{batch.pk}/accuse-de-reception.txt").status_code == 404
    assert client.get(f"/lots/{batch.pk + 1000}/").status_code == 404


def test_structure_limited_user_sees_no_batch(client, users, reference, gnupg_home, media):
    batch = import_for(reference.cpam)
    client.force_login(users.csr_only)

    for url in batch_urls(batch):
        assert client.get(url).status_code == 404, url
    listing = client.get("/lots/")
    assert listing.status_code == 200
    assert batch.number not in text_of(listing)
    assert "Aucun lot reçu." in text_of(listing)
    assert "Transmettre un lot" not in text_of(listing)


def test_every_intake_url_hides_another_creditors_data(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)
    job, _ = upload_and_follow(client, django_capture_on_commit_callbacks)
    batch = Batch.objects.get()
    names = {p.name for p in intake_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == {
        "batches",
        "upload",
        "template_csv",
        "template_xlsx",
        "job",
        "job_confirm",
        "job_cancel",
        "batch",
        "document",
    }  # a new URL must be added below
    client.force_login(users.other_admin)
    for action in ("intake:job_confirm", "intake:job_cancel"):
        assert client.post(reverse(action, args=[job.pk])).status_code == 404

    # The pages that belong to the CPAM's batch and job: not found for the other creditor.
    hidden = [reverse("intake:job", args=[job.pk]), *batch_urls(batch)]
    for url in hidden:
        assert client.get(url).status_code == 404, url
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404, url
    # The pages that are the other creditor's own: nothing of the CPAM shows.
    listing = text_of(client.get(reverse("intake:batches")))
    assert batch.number not in listing
    assert batch.acknowledgement_number not in listing
    upload_page = client.get(reverse("intake:upload"))
    assert upload_page.status_code == 200
    assert reference.cpam.name not in text_of(upload_page)
    assert 'name="creditor"' not in text_of(upload_page)
    template = client.get(reverse("intake:template_csv") + f"?creditor={reference.cpam.pk}")
    assert reference.cpam.slug not in template["Content-Disposition"]


def test_agency_user_uploads_on_behalf_of_a_creditor(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.agent)

    job, response = upload_and_follow(client, django_capture_on_commit_callbacks, creditor=reference.cpam.pk)

    batch = Batch.objects.get()
    assert batch.creditor == reference.cpam
    assert batch.source == BatchSource.AGENCY_UPLOAD
    assert batch.received_by == users.agent
    assert client.get(response["Location"])["Location"] == f"/lots/{batch.pk}/"


def test_agency_upload_requires_the_creditor(client, users, gnupg_home, media, django_capture_on_commit_callbacks):
    client.force_login(users.agent)

    response = upload(client, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert "Ce champ est obligatoire." in text_of(response)
    assert ImportJob.objects.count() == 0


def test_creditor_user_cannot_upload_for_another_creditor(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)

    upload_and_follow(client, django_capture_on_commit_callbacks, creditor=reference.other.pk)

    batch = Batch.objects.get()
    assert batch.creditor == reference.cpam
    assert set(Case.objects.values_list("creditor_id", flat=True)) == {reference.cpam.pk}


def test_creditor_user_cannot_use_another_creditors_structure(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)

    response = upload(client, django_capture_on_commit_callbacks, structure=reference.other_structure.pk)

    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in text_of(response)
    assert ImportJob.objects.count() == 0


def test_upload_with_a_default_structure(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)
    file = SimpleUploadedFile("sans-structure.csv", b"reference;nom;solde\nREF-1;Dupont;10,00\n")

    job, response = upload_and_follow(
        client, django_capture_on_commit_callbacks, file=file, structure=reference.cesa.pk
    )

    assert response.status_code == 302 and job.status == ImportJobStatus.DONE
    assert Case.objects.get().structure == reference.cesa


def test_refused_file_is_explained_on_the_job_page(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)
    file = SimpleUploadedFile("lot.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    job, response = upload_and_follow(client, django_capture_on_commit_callbacks, file=file)

    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE
    assert job.batch is None
    page = client.get(response["Location"])
    assert page.status_code == 200
    content = text_of(page)
    assert "Fichier refusé : rien n'a été enregistré." in content
    assert "Format non reconnu : le fichier n'est ni un CSV" in content
    assert "<progress" not in content
    assert Batch.objects.count() == 0
    assert Case.objects.count() == 0


def test_empty_upload_is_refused_by_the_form(client, users, gnupg_home, media, django_capture_on_commit_callbacks):
    client.force_login(users.creditor_admin)

    response = upload(client, django_capture_on_commit_callbacks, file=SimpleUploadedFile("vide.csv", b""))

    assert response.status_code == 200
    assert "Le fichier soumis est vide." in text_of(response)
    assert ImportJob.objects.count() == 0


def test_duplicate_upload_is_explained_on_the_job_page(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)
    upload_and_follow(client, django_capture_on_commit_callbacks)

    job, response = upload_and_follow(client, django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.outcome["status"] == "duplicate"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert text_of(page).count("Fichier déjà reçu") == 1  # the sentence is written once
    assert Batch.objects.count() == 1


# --- following a job -----------------------------------------------------------------------------------


def test_job_page_of_another_user_is_404(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)
    job, response = upload_and_follow(client, django_capture_on_commit_callbacks)
    url = response["Location"]

    for user in (users.collaborator, users.approver, users.other_admin, users.csr_only):
        client.force_login(user)
        assert client.get(url).status_code == 404, user.role
    client.force_login(users.agent)
    assert client.get(url).status_code == 302  # agency staff follow every import
    client.force_login(users.creditor_admin)
    assert client.get(f"/lots/import/{uuid.uuid4()}/").status_code == 404
    assert job.pk


def _running_job(user, creditor) -> ImportJob:
    return ImportJob.objects.create(
        creditor=creditor,
        source=BatchSource.CREDITOR_UPLOAD,
        requested_by=user,
        filename="lot-en-cours.csv",
        status=ImportJobStatus.RUNNING,
    )


def test_running_job_htmx_request_gets_the_progress_partial(client, users, reference):
    job = _running_job(users.creditor_admin, reference.cpam)
    client.force_login(users.creditor_admin)

    response = client.get(f"/lots/import/{job.pk}/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    content = text_of(response)
    assert "<progress" in content
    assert 'id="import-progress"' in content
    assert f'hx-get="/lots/import/{job.pk}/"' in content
    assert "Import de « lot-en-cours.csv »" in content
    assert "<html" not in content  # a fragment, not the page


def test_running_job_page_without_htmx_is_the_full_page(client, users, reference):
    job = _running_job(users.creditor_admin, reference.cpam)
    client.force_login(users.creditor_admin)

    response = client.get(f"/lots/import/{job.pk}/")

    assert response.status_code == 200
    content = text_of(response)
    assert "<html" in content
    assert "<progress" in content
    assert "Import du lot" in content


def test_running_job_shows_its_progress(client, users, reference):
    from django.core.cache import cache

    from amiable.intake.services import PROGRESS_KEY

    job = _running_job(users.creditor_admin, reference.cpam)
    cache.set(PROGRESS_KEY.format(job.pk), {"phase": "enregistrement", "done": 250, "total": 1000})
    client.force_login(users.creditor_admin)

    content = text_of(client.get(f"/lots/import/{job.pk}/", HTTP_HX_REQUEST="true"))

    assert 'value="25"' in content
    assert "enregistrement — 250 lignes sur 1000" in content


def test_finished_job_htmx_request_gets_204_with_hx_redirect(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)
    job, response = upload_and_follow(client, django_capture_on_commit_callbacks)
    batch = Batch.objects.get()

    htmx = client.get(response["Location"], HTTP_HX_REQUEST="true")

    assert htmx.status_code == 204
    assert htmx["HX-Redirect"] == f"/lots/{batch.pk}/"
    assert htmx.content == b""


# --- batch list ----------------------------------------------------------------------------------------


def test_batch_list_shows_only_own_batches(client, users, reference, gnupg_home, media):
    cpam_batch = import_for(reference.cpam)
    other_batch = import_for(reference.other, default_structure=reference.other_structure)

    client.force_login(users.creditor_admin)
    cpam_page = text_of(client.get("/lots/"))
    client.force_login(users.other_admin)
    other_page = text_of(client.get("/lots/"))
    client.force_login(users.agent)
    agency_page = text_of(client.get("/lots/"))

    assert f'href="/lots/{cpam_batch.pk}/"' in cpam_page
    assert cpam_batch.acknowledgement_number in cpam_page
    assert f'href="/lots/{other_batch.pk}/"' not in cpam_page
    assert other_batch.acknowledgement_number not in cpam_page
    assert f'href="/lots/{other_batch.pk}/"' in other_page
    assert f'href="/lots/{cpam_batch.pk}/"' not in other_page
    assert cpam_batch.acknowledgement_number not in other_page
    assert f'href="/lots/{cpam_batch.pk}/"' in agency_page
    assert f'href="/lots/{other_batch.pk}/"' in agency_page
    assert "Transmettre un lot" in cpam_page


def test_other_creditors_user_is_404_on_cpam_batch_pages(client, users, reference, gnupg_home, media):
    batch = import_for(reference.cpam)
    client.force_login(users.other_admin)

    for url in batch_urls(batch):
        assert client.get(url).status_code == 404, url


def test_inactive_creditor_user_sees_nothing(client, reference, gnupg_home, media):
    batch = import_for(reference.cpam)
    user = make_user("creditor_admin", creditor=reference.cpam)
    client.force_login(user)
    user.is_active = False
    user.save()

    for url in batch_urls(batch):
        assert client.get(url).status_code in {302, 404}, url


def test_acknowledgement_downloads_are_in_the_access_log(client, reference, users, gnupg_home):
    from amiable.audit.models import AccessLogEntry
    from amiable.intake.models import BatchSource
    from amiable.intake.services import batch_import

    outcome = batch_import(
        creditor=reference.cpam,
        content=(DATA / "cpam-lot-virgule.csv").read_bytes(),
        filename="cpam-lot-virgule.csv",
        source=BatchSource.CREDITOR_UPLOAD,
        actor=users.creditor_admin,
    )
    client.force_login(users.creditor_admin)
    assert client.get(f"/lots/{outcome.batch.pk}/accuse-de-reception.csv").status_code == 200
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind) == (users.creditor_admin, "document")
    assert entry.label == f"Accusé de réception {outcome.batch.acknowledgement_number} (csv)"
    client.force_login(users.agent)
    assert client.get(f"/lots/{outcome.batch.pk}/accuse-de-reception.pdf").status_code == 200
    # The agency's downloads are logged too (L11), under the batch's creditor.
    agency_entry = AccessLogEntry.objects.get(user=users.agent)
    assert (agency_entry.kind, agency_entry.creditor_pk) == ("document", reference.cpam.pk)
    assert agency_entry.label == f"Accusé de réception {outcome.batch.acknowledgement_number} (pdf)"


# --- the creditor's encryption and signature policy (C5) on the page ----------------------------------------

AGENCY_FPR = "4C9FDB71B4E3307EC8D7122CE060487CA0CF52DF"
POLICY = "Les lots doivent être chiffrés (OpenPGP) pour la clé de l'agence et signés"


def require_encryption_and_signature(creditor, *, register_key=False):
    from amiable.creditors.services import terms_save
    from amiable.intake import crypto
    from tests.intake.conftest import KEYS

    terms_save(creditor=creditor, actor=None, require_encryption=True, require_signature=True)
    if register_key:
        armored = (KEYS / "creditor-test-public.asc").read_text()
        crypto.register_creditor_key(creditor=creditor, armored=armored, actor=None)


def test_upload_page_states_the_creditors_policy_and_its_own_structures(client, users, reference):
    from amiable.creditors.services import agency_save, structure_save

    require_encryption_and_signature(reference.cpam)
    agency_save(actor=None, key_fingerprint=AGENCY_FPR)
    structure_save(
        creditor=reference.cpam,
        code="CNEW",
        actor=None,
        name="Centre Nouveau",
        address_line1="1, rue Neuve",
        postal_code="75001",
        city="Paris",
    )
    structure_save(creditor=reference.cpam, code="CESA", actor=None, is_active=False)
    client.force_login(users.creditor_admin)

    page = text_of(client.get(UPLOAD))

    assert f"<strong>{POLICY}</strong> avec la clé de signature du créancier enregistrée auprès de l'agence." in page
    assert "Un fichier en clair ou non signé est refusé." in page
    assert "<code>4C9F DB71 B4E3 307E C8D7 122C E060 487C A0CF 52DF</code>" in page
    # The structure codes are the creditor's own, read from its structures: active ones only.
    assert "<strong>CDOP</strong> (Centre Dentaire d'Orthodontie de Paris)" in page
    assert "<strong>CNEW</strong> (Centre Nouveau)" in page
    assert "<strong>CSR</strong> (Centre de Santé Réaumur)" in page
    assert "CESA" not in page
    assert "AUT" not in page and "Centre Autre" not in page


def test_upload_page_of_a_creditor_without_the_policy(client, users, reference):
    client.force_login(users.other_admin)

    page = text_of(client.get(UPLOAD))

    assert POLICY not in page
    assert (
        "Le chiffrement (OpenPGP) pour la clé de l'agence est recommandé ; un fichier en clair est aussi accepté."
        in page
    )
    assert "<strong>AUT</strong> (Centre Autre)" in page
    assert "Empreinte de la clé de l'agence" not in page  # not recorded yet
    assert "CSR" not in page


def test_upload_page_for_agency_staff_states_the_chosen_creditors_policy_and_structures(client, users, reference):
    require_encryption_and_signature(reference.cpam)
    client.force_login(users.agent)

    # Without a choice, the first creditor by name (the one the creditor field shows), with a link to the others.
    first = text_of(client.get(UPLOAD))
    assert reference.other.name < reference.cpam.name
    assert "un fichier en clair est aussi accepté" in first and POLICY not in first
    assert "<strong>AUT</strong> (Centre Autre)" in first and "CSR" not in first
    assert f'href="?creditor={reference.cpam.pk}"' in first

    cpam = text_of(client.get(f"{UPLOAD}?creditor={reference.cpam.pk}"))
    assert POLICY in cpam and "<strong>CSR</strong> (Centre de Santé Réaumur)" in cpam
    # Only that creditor's structures, in the guidance and in the form's list.
    assert "AUT" not in cpam and "Centre Autre" not in cpam
    assert f'<option value="{reference.csr.pk}"' in cpam
    assert f'<option value="{reference.cpam.pk}" selected>' in cpam
    assert f"modele.csv?creditor={reference.cpam.pk}" in cpam


def test_clear_upload_is_refused_when_the_creditor_requires_encryption(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    from amiable.audit.models import AuditEvent

    require_encryption_and_signature(reference.cpam)
    client.force_login(users.creditor_admin)

    job, response = upload_and_follow(client, django_capture_on_commit_callbacks, "cpam-lot-anomalies.csv")

    content = text_of(client.get(response["Location"]))
    assert "Fichier refusé : rien n'a été enregistré." in content
    assert (
        f"{reference.cpam.name} exige des fichiers chiffrés (OpenPGP) : fichier en clair refusé. Chiffrez-le pour la "
        "clé de l'agence et signez-le avec votre clé enregistrée auprès de l'agence, puis transmettez-le à nouveau."
    ) in content
    job.refresh_from_db()
    assert (job.batch, job.staged, job.outcome["status"]) == (None, b"", "refused")
    assert Batch.objects.count() == 0 and Case.objects.count() == 0
    refused = AuditEvent.objects.get(verb="batch.refused")
    assert (refused.actor, refused.creditor_pk) == (users.creditor_admin, reference.cpam.pk)


def test_encrypted_but_unsigned_upload_is_refused_when_the_creditor_requires_a_signature(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    require_encryption_and_signature(reference.cpam, register_key=True)
    client.force_login(users.creditor_admin)

    job, response = upload_and_follow(client, django_capture_on_commit_callbacks, "cpam-lot-anomalies.csv.asc")

    content = text_of(client.get(response["Location"]))
    assert "Fichier refusé : rien n'a été enregistré." in content
    assert f"{reference.cpam.name} exige des fichiers signés par une clé enregistrée : fichier non signé." in content
    assert Batch.objects.count() == 0 and Case.objects.count() == 0


def test_encrypted_and_signed_upload_is_accepted(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    require_encryption_and_signature(reference.cpam, register_key=True)
    client.force_login(users.creditor_admin)

    job, response = upload_and_follow(client, django_capture_on_commit_callbacks, "cpam-lot-exemple.csv.gpg")

    batch = Batch.objects.get()
    job.refresh_from_db()
    assert job.batch == batch
    assert (batch.was_encrypted, batch.signature_status, batch.received_by) == (True, "signed", users.creditor_admin)
    assert Case.objects.count() == 60
    page = text_of(client.get(f"/lots/{batch.pk}/"))
    assert "Signé" in page
