"""The audit trail's personal data (L11): stored encrypted under the creditor's key (the debtor's outside a
case), read back clear through the audit queryset, unreadable once the key is destroyed — the events
themselves untouched; what is not personal stays clear and queryable."""

import importlib
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amiable.audit.models import AuditEvent, PersonalDataKey
from amiable.audit.personal import ERASED, PERSONAL_KEYS, is_encrypted, keys_destroy, reveal, reveal_value
from amiable.cases.selectors import case_timeline
from amiable.cases.services import case_transition, comment_add
from tests.factories import make_case


def _stored(event: AuditEvent) -> dict:
    """The row as stored, without the queryset's decryption."""
    return AuditEvent.objects.filter(pk=event.pk).values("target_label", "before", "after").get()


def test_a_debtors_names_are_stored_encrypted_under_the_debtors_key_and_read_back_clear(reference):
    case = make_case(structure=reference.csr, last_name="Chiffrenom", first_name="Prénomsecret")
    event = AuditEvent.objects.get(verb="debtor.created", target_id=str(case.debtor_id))
    stored = _stored(event)
    assert is_encrypted(stored["after"]["last_name"]) and is_encrypted(stored["target_label"])
    assert "Chiffrenom" not in str(stored) and "CHIFFRENOM" not in str(stored)
    assert event.after["last_name"] == "Chiffrenom" and event.after["first_name"] == "Prénomsecret"
    assert event.target_label == "Mme CHIFFRENOM Prénomsecret"
    key = PersonalDataKey.objects.get(debtor_pk=case.debtor_id)
    assert stored["after"]["last_name"].startswith(f"enc:v1:{key.pk}:")
    # The address added outside a case: the debtor's key too.
    point = AuditEvent.objects.get(verb="contact_point.added")
    assert point.after["display"].endswith("75002 Paris") and is_encrypted(_stored(point)["after"]["display"])


def test_events_on_a_case_use_the_creditors_key_and_keep_the_rest_clear(reference, users):
    case = make_case(structure=reference.csr)
    comment = comment_add(case=case, author=users.agent, body="Le débiteur a déménagé à Brest")
    event = AuditEvent.objects.get(verb="comment.added", target_id=str(comment.pk))
    stored = _stored(event)
    key = PersonalDataKey.objects.get(creditor_pk=reference.cpam.pk, destroyed_at__isnull=True)
    assert stored["after"]["body"].startswith(f"enc:v1:{key.pk}:") and stored["after"]["internal"] is False
    assert event.after == {"body": "Le débiteur a déménagé à Brest", "internal": False}
    # Statuses, amounts and references of documents stay clear: the JSON queries on the trail still work.
    case_transition(case=case, to="in_progress", actor=users.agent, reason="Reprise")
    assert AuditEvent.objects.filter(verb="case.status_changed", after__status="in_progress").count() == 1
    assert _stored(AuditEvent.objects.get(verb="case.created", case_pk=case.pk))["after"]["principal_amount"] == (
        "120.50"
    )


def test_the_agencys_own_events_stay_clear(reference, users):
    from amiable.audit.services import audit_record

    event = audit_record(actor=users.agent, verb="x.done", target=reference.cpam, after={"city": "Paris"})
    assert _stored(event)["after"] == {"city": "Paris"}


def test_a_destroyed_key_makes_the_values_unreadable_and_leaves_the_events(reference, users):
    mine = make_case(structure=reference.csr, last_name="Effaçable")
    other = make_case(structure=reference.other_structure, last_name="Gardé")
    comment_add(case=mine, author=users.agent, body="Texte à effacer")
    comment_add(case=other, author=users.agent, body="Texte à garder")
    count = AuditEvent.objects.count()

    destroyed = keys_destroy(creditor_pk=reference.cpam.pk, debtor_pks=[mine.debtor_id])
    assert destroyed == 2
    assert AuditEvent.objects.count() == count
    assert AuditEvent.objects.get(verb="comment.added", case_pk=mine.pk).after["body"] == ERASED
    assert AuditEvent.objects.get(verb="debtor.created", target_id=str(mine.debtor_id)).after["last_name"] == ERASED
    assert AuditEvent.objects.get(verb="comment.added", case_pk=other.pk).after["body"] == "Texte à garder"
    assert AuditEvent.objects.get(verb="debtor.created", target_id=str(other.debtor_id)).after["last_name"] == "Gardé"
    details = [entry.details for entry in case_timeline(case=mine, include_internal=True)]
    assert ERASED in details and "Texte à effacer" not in details
    raw = _stored(AuditEvent.objects.get(verb="comment.added", case_pk=mine.pk))["after"]["body"]
    assert reveal_value(raw) == ERASED
    # The key rows stay, emptied and dated: the proof of the destruction; a new key serves what comes after.
    key = PersonalDataKey.objects.get(creditor_pk=reference.cpam.pk)
    assert key.destroyed_at is not None and bytes(key.wrapped) == b""
    later = comment_add(case=mine, author=users.agent, body="Après l'effacement")
    assert AuditEvent.objects.get(verb="comment.added", target_id=str(later.pk)).after["body"] == "Après l'effacement"
    assert PersonalDataKey.objects.filter(creditor_pk=reference.cpam.pk).count() == 2


def test_reading_many_events_reads_their_keys_once(reference, users):
    for n in range(5):
        case = make_case(structure=reference.csr, last_name=f"Nom{n}")
        comment_add(case=case, author=users.agent, body=f"Texte {n}")
    with CaptureQueriesContext(connection) as captured:
        events = list(AuditEvent.objects.filter(verb__in=["comment.added", "debtor.created"]))
    assert len(captured) == 2  # the events, then all their keys
    assert sorted(e.after["last_name"] for e in events if e.verb == "debtor.created") == [f"Nom{n}" for n in range(5)]
    assert sorted(e.after["body"] for e in events if e.verb == "comment.added") == [f"Texte {n}" for n in range(5)]
    reveal(events)  # revealing twice changes nothing
    assert all(not is_encrypted(v) for e in events for v in e.after.values())


def test_the_personal_keys_cover_what_the_services_record():
    for name in ("last_name", "first_name", "birth_date", "display", "value", "contacts", "to", "emailed_to", "body"):
        assert name in PERSONAL_KEYS
    for name in ("reason", "note", "cash_reason", "minutes"):  # typed by a person
        assert name in PERSONAL_KEYS
    for name in ("status", "amount", "number", "kind", "sha256", "balance"):
        assert name not in PERSONAL_KEYS


def test_typed_reasons_and_notes_are_encrypted_and_reason_codes_stay_clear(reference, users):
    from amiable.audit.services import audit_record

    case = make_case(structure=reference.csr)
    case_transition(case=case, to="in_progress", actor=users.agent, reason="Le débiteur Raisontapée a appelé")
    event = AuditEvent.objects.get(verb="case.status_changed", case_pk=case.pk)
    stored = _stored(event)["after"]
    assert is_encrypted(stored["reason"]) and "Raisontapée" not in str(_stored(event))
    assert stored["status"] == "in_progress" and event.after["reason"] == "Le débiteur Raisontapée a appelé"
    assert AuditEvent.objects.filter(verb="case.status_changed", after__status="in_progress").count() == 1
    texts = {"note": "Remis à Mme Notetapée", "cash_reason": "Payé au guichet", "minutes": "Compte rendu"}
    noted = audit_record(actor=users.agent, verb="x.noted", target=case, after=texts)
    assert all(is_encrypted(value) for value in _stored(noted)["after"].values())
    # A closure's reason code names no one: clear, and its label readable after an erasure.
    coded = audit_record(actor=users.agent, verb="x.closed", target=case, after={"reason": "insolvency"})
    assert _stored(coded)["after"] == {"reason": "insolvency"}
    keys_destroy(creditor_pk=reference.cpam.pk)
    assert AuditEvent.objects.get(pk=event.pk).after == {"status": "in_progress", "reason": ERASED}
    assert AuditEvent.objects.get(pk=coded.pk).after == {"reason": "insolvency"}


def test_the_intakes_bulk_events_are_encrypted(reference):
    from amiable.intake import pipeline
    from amiable.intake.validation import Contact
    from tests.intake.test_pipeline import clean_row, destination, make_batch

    batch = make_batch(reference)
    contacts = [Contact(kind="email", quality="valid", value="lea.durand@exemple.fr")]
    pipeline.write([clean_row(1, reference="CHIFFRE-1", contacts=contacts)], destination=destination(reference, batch))
    event = AuditEvent.objects.get(verb="case.created", after__batch=batch.number)
    stored = _stored(event)["after"]
    assert is_encrypted(stored["contacts"]) and is_encrypted(stored["reference"])
    assert stored["line"] == 1 and stored["principal_amount"] == "10.00"
    assert event.after["reference"] == "CHIFFRE-1"
    assert event.after["contacts"] == [{"kind": "email", "quality": "valid", "value": "lea.durand@exemple.fr"}]


def test_production_refuses_the_development_key(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "s" * 60)
    monkeypatch.setenv("AMIABLE_AUDIT_KEY", "dev-only-audit-key-change-me")
    sys.modules.pop("config.settings.prod", None)
    try:
        with pytest.raises(ImproperlyConfigured, match="AMIABLE_AUDIT_KEY"):
            importlib.import_module("config.settings.prod")
        monkeypatch.delenv("AMIABLE_AUDIT_KEY")
        with pytest.raises(ImproperlyConfigured, match="AMIABLE_AUDIT_KEY est obligatoire"):
            importlib.import_module("config.settings.prod")
    finally:
        sys.modules.pop("config.settings.prod", None)


def test_without_a_key_encryption_key_nothing_is_written(reference, settings):
    settings.AMIABLE_AUDIT_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        make_case(structure=reference.csr)
