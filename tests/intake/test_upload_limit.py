"""The upload page and a file over the size limit: the form names the limit, whatever the size (over
FILE_UPLOAD_MAX_MEMORY_SIZE the upload handler keeps nothing of the file)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from amiable.intake.models import ImportJob
from tests.intake.test_views import text_of, upload

MiB = 1024 * 1024


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_upload_over_the_limit_names_the_size_on_the_form(
    client, users, reference, gnupg_home, media, settings, django_capture_on_commit_callbacks
):
    """Beyond FILE_UPLOAD_MAX_MEMORY_SIZE the handler keeps nothing of the file: the form still names the size
    (Django's own handler left the field empty: « Ce champ est obligatoire »)."""
    settings.AMIABLE_BATCH_MAX_MB = 1
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * MiB
    client.force_login(users.creditor_admin)
    file = SimpleUploadedFile("gros.csv", b"x" * (3 * MiB))

    response = upload(client, django_capture_on_commit_callbacks, file=file)

    assert response.status_code == 200
    content = text_of(response)
    assert "Le fichier « gros.csv » (3,0 Mo) dépasse la taille maximale de 1 Mo." in content
    assert "Ce champ est obligatoire" not in content
    assert ImportJob.objects.count() == 0


def test_upload_just_over_the_limit_names_the_size_on_the_form(
    client, users, reference, gnupg_home, media, settings, django_capture_on_commit_callbacks
):
    settings.AMIABLE_BATCH_MAX_MB = 1
    client.force_login(users.creditor_admin)
    file = SimpleUploadedFile("gros.csv", b"x" * (MiB + 1))

    response = upload(client, django_capture_on_commit_callbacks, file=file)

    assert response.status_code == 200
    assert "Le fichier « gros.csv » (1,0 Mo) dépasse la taille maximale de 1 Mo." in text_of(response)
    assert ImportJob.objects.count() == 0
