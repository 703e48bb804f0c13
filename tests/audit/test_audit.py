"""Tests for the append-only audit trail (S3): what `audit_record` writes, and that neither the
application nor raw SQL can change or erase an event."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection, transaction

from amiable.audit.models import AuditEvent
from amiable.audit.services import SYSTEM_LABEL, audit_record, snapshot
from amiable.core.exceptions import ApplicationError
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def event(users):
    return audit_record(
        actor=users.agent,
        verb="test.recorded",
        target=("test.thing", 42, "Une chose"),
        before={"n": 1},
        after={"n": 2},
    )


def _fresh(event: AuditEvent) -> AuditEvent:
    return AuditEvent.objects.get(pk=event.pk)


# --- audit_record -------------------------------------------------------------


def test_audit_record_writes_who_what_and_the_data_serialised(users):
    at = datetime(2026, 3, 2, 10, 15, 30, tzinfo=PARIS)
    event = audit_record(
        actor=users.agent,
        verb="payment.recorded",
        target=("payments.payment", 17, "Paiement de 12,30 €"),
        before={"amount": Decimal("0.00"), "on": None},
        after={"amount": Decimal("12.30"), "received_on": date(2026, 1, 31), "at": at, "list": [Decimal("1.5")]},
        ip_address="192.0.2.10",
    )
    stored = _fresh(event)
    assert stored.actor_id == users.agent.pk
    assert stored.actor == users.agent
    assert stored.actor_label == users.agent.email
    assert stored.verb == "payment.recorded"
    assert stored.target_type == "payments.payment"
    assert stored.target_id == "17"
    assert stored.target_label == "Paiement de 12,30 €"
    assert stored.case_pk is None
    assert stored.creditor_pk is None
    assert stored.ip_address == "192.0.2.10"
    assert stored.at is not None
    assert stored.before == {"amount": "0.00", "on": None}
    assert stored.after == {
        "amount": "12.30",
        "received_on": "2026-01-31",
        "at": "2026-03-02T10:15:30+01:00",
        "list": ["1.5"],
    }


@pytest.mark.parametrize("actor", [None, AnonymousUser()], ids=["none", "anonymous"])
def test_audit_record_without_a_person_is_the_system(db, actor):
    event = _fresh(audit_record(actor=actor, verb="task.ran", target=("task", "x", "Tâche")))
    assert event.actor_id is None
    assert event.actor_label == "Système" == SYSTEM_LABEL
    assert event.before is None
    assert event.after is None


def test_audit_record_keeps_the_actor_label_of_the_time(users):
    event = audit_record(actor=users.agent, verb="x.done", target=("x", 1, "X"))
    old_email = users.agent.email
    users.agent.email = "renamed@test.example"
    users.agent.save(update_fields=["email"])
    assert _fresh(event).actor_label == old_email


def test_audit_record_on_a_model_takes_its_identity_case_and_creditor(users, reference):
    case = make_case(structure=reference.cdop, reference="CPAM-2026-00099")
    event = _fresh(audit_record(actor=users.agent, verb="case.noted", target=case))
    assert event.target_type == "cases.case"
    assert event.target_id == str(case.pk)
    assert event.target_label == "Dossier CPAM-2026-00099"
    assert event.case_pk == case.pk
    assert event.creditor_pk == reference.cpam.pk

    event = _fresh(audit_record(actor=None, verb="creditor.noted", target=reference.other))
    assert (event.target_type, event.target_id) == ("creditors.creditor", str(reference.other.pk))
    assert event.creditor_pk == reference.other.pk
    assert event.case_pk is None

    event = _fresh(audit_record(actor=None, verb="structure.noted", target=reference.csr))
    assert event.creditor_pk == reference.cpam.pk

    # Explicit values win over what the target says.
    event = _fresh(audit_record(actor=None, verb="x", target=case, case_pk=123, creditor_pk=456))
    assert (event.case_pk, event.creditor_pk) == (123, 456)


def test_audit_record_truncates_long_labels(db):
    event = _fresh(audit_record(actor=None, verb="x", target=("thing", 1, "é" * 400)))
    assert event.target_label == "é" * 255


def test_audit_record_refuses_an_unknown_target(db):
    with pytest.raises(TypeError, match="Cible d'audit inconnue"):
        audit_record(actor=None, verb="x", target="pas une cible")
    assert AuditEvent.objects.count() == 0


def test_snapshot_reads_foreign_keys_by_id(users, reference):
    case = make_case(structure=reference.csr, assigned_agent=users.agent)
    assert snapshot(case, ["reference", "structure", "assigned_agent", "received_on"]) == {
        "reference": case.reference,
        "structure": reference.csr.pk,
        "assigned_agent": users.agent.pk,
        "received_on": case.received_on,
    }


# --- the application cannot change or erase the trail -------------------------


def test_saving_an_existing_event_is_refused(event):
    event.verb = "test.tampered"
    with pytest.raises(ApplicationError) as excinfo:
        event.save()
    assert excinfo.value.message == "Le journal d'audit ne peut pas être modifié."
    with pytest.raises(ApplicationError):
        event.save(update_fields=["verb"])
    with pytest.raises(ApplicationError):
        _fresh(event).save(force_update=True)
    assert _fresh(event).verb == "test.recorded"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(ApplicationError) as excinfo:
        event.delete()
    assert excinfo.value.message == "Le journal d'audit ne peut pas être effacé."
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_is_refused(event):
    with pytest.raises(ApplicationError) as excinfo:
        AuditEvent.objects.filter(pk=event.pk).update(verb="test.tampered")
    assert excinfo.value.message == "Le journal d'audit ne peut pas être modifié."
    with pytest.raises(ApplicationError):
        AuditEvent.objects.all().update(after=None)
    event.verb = "test.tampered"
    # bulk_update runs in an atomic block without savepoint: give it one so the test can go on.
    with pytest.raises(ApplicationError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["verb"])
    assert _fresh(event).verb == "test.recorded"


def test_queryset_delete_is_refused(event):
    with pytest.raises(ApplicationError) as excinfo:
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert excinfo.value.message == "Le journal d'audit ne peut pas être effacé."
    with pytest.raises(ApplicationError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_new_events_can_still_be_appended(event):
    before = AuditEvent.objects.count()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(at=event.at, actor_label="Système", verb="bulk.one", target_type="t", target_id="1"),
            AuditEvent(at=event.at, actor_label="Système", verb="bulk.two", target_type="t", target_id="2"),
        ]
    )
    assert AuditEvent.objects.count() == before + 2


# --- the database itself refuses changes --------------------------------------


def test_raw_sql_update_is_refused_by_the_database(event):
    assert connection.vendor in ("sqlite", "postgresql")
    with pytest.raises(DatabaseError) as excinfo, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET verb = 'x'")
    assert "Le journal d'audit est en ajout seul : UPDATE refusé." in str(excinfo.value)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET after = NULL WHERE id = %s", [event.pk])
    stored = _fresh(event)
    assert stored.verb == "test.recorded"
    assert stored.after == {"n": 2}


def _trigger_names() -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditevent' ORDER BY name"
            )
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass "
                "AND NOT tgisinternal ORDER BY tgname"
            )
        return [row[0] for row in cursor.fetchall()]


def test_raw_sql_delete_follows_the_documented_policy_of_the_engine(event):
    """PostgreSQL refuses DELETE too. SQLite refuses only UPDATE, on purpose: Django's test flush empties
    tables with DELETE there (see migration audit 0002), so the only trigger is the UPDATE one."""
    if connection.vendor == "postgresql":
        assert _trigger_names() == ["audit_auditevent_append_only", "audit_auditevent_no_truncate"]
        with pytest.raises(DatabaseError) as excinfo, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
        assert "Le journal d'audit est en ajout seul : DELETE refusé." in str(excinfo.value)
        assert AuditEvent.objects.filter(pk=event.pk).exists()
    elif connection.vendor == "sqlite":
        assert _trigger_names() == ["audit_auditevent_no_update"]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_auditevent_no_update'"
            )
            (sql,) = cursor.fetchone()
        assert "BEFORE UPDATE ON audit_auditevent" in sql
        assert "DELETE" not in sql.upper()
    else:
        pytest.fail(f"No append-only policy is defined for the {connection.vendor} engine.")
