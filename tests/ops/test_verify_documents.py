"""`verify_documents`: every stored document read again against its recorded hash; a missing or altered file is
reported with its model and id and fails the command, and `run_daily` runs it on Mondays."""

import io
import json
from datetime import date

import pytest
import time_machine
from django.apps import apps
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models

from amiable.ops.documents import STORED_DOCUMENTS
from tests.work_fixtures import case_factory, cpam_setup, first_letter_sent  # noqa: F401

MONDAY, TUESDAY = date(2026, 11, 30), date(2026, 12, 1)


def _verify() -> tuple[dict, str]:
    out = io.StringIO()
    try:
        call_command("verify_documents", "--json", stdout=out)
    except CommandError as error:
        return json.loads(out.getvalue()), str(error)
    return json.loads(out.getvalue()), ""


@pytest.fixture
def letter(case_factory):  # noqa: F811 (the fixture imported above)
    return first_letter_sent(case_factory(ack=date(2026, 5, 1)), printed=False)


def test_every_stored_file_is_listed_with_its_hash_field():
    listed = {(label.lower(), field) for label, field, _ in STORED_DOCUMENTS}
    for label, field, hash_field in STORED_DOCUMENTS:
        model = apps.get_model(label)
        assert isinstance(model._meta.get_field(field), models.FileField), (label, field)
        if hash_field:
            assert isinstance(model._meta.get_field(hash_field), models.CharField), (label, hash_field)
    files = {
        (model._meta.label_lower, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.FileField)
    }
    assert files - listed == set(), "a new stored file: add it to amiable.ops.documents.STORED_DOCUMENTS"


def test_intact_documents_pass(letter):
    result, error = _verify()
    assert result["ok"] is True
    assert result["checked"] >= 1
    assert result["missing"] == result["altered"] == 0
    assert error == ""
    out = io.StringIO()
    call_command("verify_documents", stdout=out)
    assert "0 manquant(s), 0 modifié(s)" in out.getvalue()


def test_an_altered_document_is_found(letter):
    path = default_storage.path(letter.pdf.name)
    with open(path, "r+b") as stored:
        stored.seek(100)
        stored.write(b"X")

    result, error = _verify()
    assert result["ok"] is False
    assert result["altered"] == 1
    assert result["findings"] == [
        {"kind": "altered", "model": "letters.Letter", "id": letter.pk, "field": "pdf", "file": letter.pdf.name}
    ]
    assert "1 modifié(s)" in error
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_documents", stdout=out)
    assert f"courrier n° {letter.pk} (pdf) : contenu modifié (empreinte différente)" in out.getvalue()


def test_a_missing_document_is_found(letter):
    default_storage.delete(letter.pdf.name)

    result, error = _verify()
    assert result["missing"] == 1
    assert result["findings"][0]["kind"] == "missing"
    assert "1 manquant(s)" in error


def test_run_daily_checks_the_documents_on_mondays_only(letter, monkeypatch):
    from amiable.letters.management.commands import print_batch

    monkeypatch.setattr(print_batch.Command, "handle", lambda self, *args, **options: None)  # it needs the file
    default_storage.delete(letter.pdf.name)
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(f"{TUESDAY} 10:30 +01:00", tick=False):
        call_command("run_daily", stdout=out, stderr=err)
    assert "== verify_documents\nTâche hebdomadaire : le lundi seulement." in out.getvalue()

    err = io.StringIO()
    with time_machine.travel(f"{MONDAY} 10:30 +01:00", tick=False), pytest.raises(CommandError) as raised:
        call_command("run_daily", stdout=io.StringIO(), stderr=err)
    assert str(raised.value) == "Tâches en échec : verify_documents", err.getvalue()
