"""Every upload form names the size of a file over its limit, also when the file was so large that the upload
handler kept none of it (`amiable.core.uploads`): never « Ce champ est obligatoire » or « vide »."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from lxml import html as lxml_html

from amiable.banking.forms import StatementUploadForm
from amiable.banking.models import BankStatement
from amiable.closure.forms import IrrecoverableForm
from amiable.core.uploads import TooLargeUploadedFile
from amiable.reporting.forms_meetings import MinutesForm

MiB = 1024 * 1024


def too_large(name: str, field: str, size: int) -> TooLargeUploadedFile:
    return TooLargeUploadedFile(
        received_size=size, field_name=field, name=name, content_type="application/pdf", charset=None
    )


@pytest.mark.parametrize(
    "form_class, field, data, limit_mb",
    [
        (StatementUploadForm, "file", {}, 100),
        (IrrecoverableForm, "evidence_file", {"reason": "insolvency", "evidence": "x", "confirm": "on"}, 10),
        (MinutesForm, "upload", {"held_on": "2026-11-30"}, 20),
    ],
)
def test_a_file_the_handler_dropped_is_named_too_large(settings, form_class, field, data, limit_mb):
    settings.AMIABLE_BATCH_MAX_MB = 100
    form = form_class(data, {field: too_large("gros.pdf", field, 150 * MiB)})
    assert not form.is_valid()
    assert form.errors[field] == [f"Le fichier « gros.pdf » (150,0 Mo) dépasse la taille maximale de {limit_mb} Mo."]


@pytest.mark.parametrize(
    "form_class, field, data, limit_mb",
    [
        (IrrecoverableForm, "evidence_file", {"reason": "insolvency", "evidence": "x", "confirm": "on"}, 10),
        (MinutesForm, "upload", {"held_on": "2026-11-30"}, 20),
    ],
)
def test_a_file_just_over_its_forms_own_limit_is_named_too_large(form_class, field, data, limit_mb):
    upload = SimpleUploadedFile("piece.pdf", b"x" * (limit_mb * MiB + 1))
    form = form_class(data, {field: upload})
    assert not form.is_valid()
    assert form.errors[field] == [
        f"Le fichier « piece.pdf » ({limit_mb},0 Mo) dépasse la taille maximale de {limit_mb} Mo."
    ]


@pytest.mark.django_db
def test_the_bank_statement_page_names_the_size(client, users, settings):
    """Through the page and the real upload handler: over FILE_UPLOAD_MAX_MEMORY_SIZE nothing is kept."""
    settings.AMIABLE_BATCH_MAX_MB = 1
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * MiB
    client.force_login(users.supervisor)
    response = client.post("/banque/", {"file": SimpleUploadedFile("releve.xml", b"x" * (3 * MiB))})
    assert response.status_code == 200
    text = lxml_html.fromstring(response.content.decode()).text_content()
    assert "Le fichier « releve.xml » (3,0 Mo) dépasse la taille maximale de 1 Mo." in text
    assert "Ce champ est obligatoire" not in text and "vide" not in text
    assert not BankStatement.objects.exists()
