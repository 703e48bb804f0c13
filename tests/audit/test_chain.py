"""The hash chain of the audit trail: every writer chains, `verify_audit` finds an event changed, removed or
slipped in, and the chain holds across savepoints rolled back and concurrent writers."""

import io
import json
import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from amiable.audit.chain import COLUMNS, GENESIS, content, link
from amiable.audit.models import AuditEvent
from amiable.audit.services import (
    AUDIT_FIELDS,
    audit_event,
    audit_events_write,
    audit_record,
    audit_record_many,
    audit_rows_write,
)
from amiable.core.exceptions import ApplicationError


def _record(n: int, **extra) -> AuditEvent:
    return audit_record(
        actor=None,
        verb="test.chained",
        target=("test.thing", n, f"Chose {n}"),
        after={"n": n, "amount": Decimal("12.30"), "ratio": 0.25, "big": 1e20},
        **extra,
    )


def _verify() -> tuple[dict, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit", "--json", stdout=out)
    except CommandError as error:
        return json.loads(out.getvalue()), str(error)
    return json.loads(out.getvalue()), ""


def _links_hold() -> bool:
    previous = GENESIS
    for row in AuditEvent.objects.order_by("id").values_list("hash", *COLUMNS):
        if row[0] != link(previous, content(row[1:])):
            return False
        previous = row[0]
    return True


def _tamper(sql: str, params=()) -> None:
    """Raw SQL below the application, the append-only trigger lifted as only the tables' owner (or a
    superuser) could: what an intruder with those rights would do."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_update")
            cursor.execute(sql, params)


@pytest.fixture
def five(db):
    return [_record(n) for n in range(1, 6)]


# --- every writer chains --------------------------------------------------------------------------------


def test_every_writer_chains_its_events_to_the_previous_one(db, users):
    first = _record(1, ip_address="2001:DB8::1")
    with transaction.atomic():
        audit_events_write(
            [audit_event(actor=users.agent, verb="test.bulk", target=("test.thing", n, "x")) for n in (2, 3)]
        )
        audit_record_many(
            actor=users.agent, events=[{"verb": "test.many", "target": ("test.thing", n, "y")} for n in (4, 5)]
        )
        row = (first.at, None, "Système", "test.rows", "test.thing", "6", "z", None, None, None, {"k": [1, 2]}, None)
        audit_rows_write([row])
    AuditEvent.objects.create(
        at=first.at, actor_label="Système", verb="test.created", target_type="t", target_id="7", hash="forged"
    )

    events = list(AuditEvent.objects.filter(id__gte=first.pk).order_by("id").values_list("id", "hash"))
    assert len(events) == 7
    previous = AuditEvent.objects.filter(id__lt=first.pk).order_by("-id").values_list("hash", flat=True).first()
    assert events[0][1] == link(previous or GENESIS, content([getattr(first, name) for name in COLUMNS]))
    assert "forged" not in {hash for _, hash in events}  # the writer's hash, never the caller's
    assert _links_hold()
    result, error = _verify()
    assert result == {
        "ok": True,
        "checked": AuditEvent.objects.count(),
        "last_id": events[-1][0],
        "last_hash": events[-1][1],
    }
    assert error == ""


def test_a_writer_that_forgets_the_chain_fails(db):
    from amiable.core.bulk import insert_rows

    row = (None, None, "Système", "test.raw", "t", "1", "", None, None, None, None, None)
    with pytest.raises(DatabaseError), transaction.atomic():
        insert_rows(AuditEvent, AUDIT_FIELDS, [row])
    assert not AuditEvent.objects.exists()


def test_the_chain_holds_across_a_savepoint_rolled_back(db):
    with transaction.atomic():
        _record(1)
        with pytest.raises(ApplicationError), transaction.atomic():
            _record(2)  # its hash became the tip, then the savepoint took it back
            raise ApplicationError("refusé")
        _record(3)
    _record(4)

    assert list(AuditEvent.objects.order_by("id").values_list("after__n", flat=True)) == [1, 3, 4]
    assert _verify()[0]["ok"]


def test_one_query_reads_the_tip_per_transaction_not_per_event(db):
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        for n in range(1, 4):
            _record(n)
        audit_record_many(actor=None, events=[{"verb": "test.many", "target": ("t", n, "y")} for n in range(5)])
    tips = [q["sql"] for q in queries if "audit_chain_tip" in q["sql"] or "ORDER BY id DESC LIMIT 1" in q["sql"]]
    assert len(tips) == 1
    assert AuditEvent.objects.count() == 8
    assert _verify()[0]["ok"]


# --- verify_audit finds any alteration ------------------------------------------------------------------


def test_an_event_changed_in_place_is_found(five):
    _tamper("UPDATE audit_auditevent SET verb = 'test.innocent' WHERE id = %s", [five[2].pk])

    result, error = _verify()
    assert result["ok"] is False
    assert result["first_broken_id"] == five[2].pk
    assert result["checked"] == 2
    assert f"le maillon de l'événement n° {five[2].pk} est rompu" in error


def test_an_event_changed_with_its_hash_recomputed_breaks_the_next_link(five):
    """An intruder who knows the algorithm can fix the event they change, not every event after it."""
    row = list(AuditEvent.objects.filter(pk=five[2].pk).values_list(*COLUMNS).get())
    row[COLUMNS.index("after")] = {"n": 3, "amount": "0.00", "ratio": 0.25, "big": 1e20}
    forged = link(five[1].hash, content(row))
    _tamper(
        "UPDATE audit_auditevent SET after = %s, hash = %s WHERE id = %s",
        [json.dumps(row[COLUMNS.index("after")]), forged, five[2].pk],
    )

    result, _ = _verify()
    assert result["first_broken_id"] == five[3].pk


def test_an_event_deleted_in_the_middle_is_found(five):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [five[1].pk])

    result, error = _verify()
    assert result["first_broken_id"] == five[2].pk
    assert result["previous_id"] == five[0].pk
    assert "modifié, supprimé ou inséré" in error


def test_an_event_slipped_in_the_middle_is_found(db):
    first = _record(1)
    later = audit_event(actor=None, verb="test.chained", target=("test.thing", 3, "Chose 3"))
    later.pk = first.pk + 10  # a gap in the ids, as rolled-back transactions leave on PostgreSQL
    later.save(force_insert=True)
    values = [first.at, None, "Système", "test.forged", "test.thing", "2", "Chose 2", None, None, None, None, None]
    forged = link(first.hash, content(values))  # a link correct to the event before it
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (id, at, actor_label, verb, target_type, target_id, target_label, hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [first.pk + 5, first.at, "Système", "test.forged", "test.thing", "2", "Chose 2", forged],
        )

    result, _ = _verify()
    assert result["ok"] is False
    assert result["first_broken_id"] == later.pk
    assert result["previous_id"] == first.pk + 5


def test_verify_audit_speaks_french_and_fails_from_the_command_line(five, monkeypatch):
    from django.core.management import ManagementUtility

    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert f"Journal d'audit intègre : 5 événement(s) vérifié(s), dernier n° {five[-1].pk}" in out.getvalue()

    _tamper("UPDATE audit_auditevent SET target_label = 'x' WHERE id = %s", [five[0].pk])
    monkeypatch.setattr("sys.stdout", io.StringIO())
    monkeypatch.setattr("sys.stderr", err := io.StringIO())
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "verify_audit"]).execute()
    assert exited.value.code == 1
    assert f"le maillon de l'événement n° {five[0].pk} est rompu" in err.getvalue()
    assert "dès le premier événement du journal" in err.getvalue()


def test_verify_audit_reads_in_slices(five, monkeypatch):
    from amiable.audit.management.commands import verify_audit

    monkeypatch.setattr(verify_audit, "SLICE", 2)
    assert _verify()[0]["checked"] == 5


# --- the events written before the chain ----------------------------------------------------------------


def test_the_migration_chains_the_events_written_before_the_chain(five):
    from importlib import import_module

    _tamper("UPDATE audit_auditevent SET hash = ''")
    assert _verify()[0]["ok"] is False

    migration = import_module("amiable.audit.migrations.0006_hash_chain")
    migration.chain_existing(apps, SimpleNamespace(connection=connection))  # it reads only the connection

    assert _verify()[0] == {
        "ok": True,
        "checked": 5,
        "last_id": five[-1].pk,
        "last_hash": AuditEvent.objects.get(pk=five[-1].pk).hash,
    }
    _record(6)  # the next event chains after them
    assert _verify()[0]["checked"] == 6
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET verb = 'x'")


# --- concurrent writers ---------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers at BEGIN IMMEDIATE")
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain():
    barrier = threading.Barrier(4)
    failures = []

    def write(worker: int) -> None:
        try:
            barrier.wait()
            for n in range(10):
                with transaction.atomic():
                    _record(worker * 100 + n)
                    audit_record_many(
                        actor=None, events=[{"verb": "test.many", "target": ("t", worker, "y")} for _ in range(3)]
                    )
        except Exception as error:  # handed to the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    result, _ = _verify()
    assert result["ok"] and result["checked"] == 4 * 10 * 4


# --- against a tip published earlier --------------------------------------------------------------------


def _verify_against(anchor: str) -> tuple[dict, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit", "--json", "--expect", anchor, stdout=out)
    except CommandError as error:
        return (json.loads(out.getvalue()) if out.getvalue() else {}), str(error)
    return json.loads(out.getvalue()), ""


def test_the_published_tip_still_in_the_chain_passes(five):
    _record(6)  # events written since the tip was published

    result, error = _verify_against(f"{five[-1].pk}:{five[-1].hash}")
    assert (result["ok"], result["checked"], result["anchor_id"], error) == (True, 6, five[-1].pk, "")


def test_a_trail_cut_off_at_its_end_is_found_only_against_the_published_tip(five):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        cursor.execute("DELETE FROM audit_auditevent WHERE id >= %s", [five[3].pk])
    assert _verify()[0]["ok"] is True  # consistent with itself

    result, error = _verify_against(f"{five[-1].pk}:{five[-1].hash}")
    assert (result["ok"], result["reason"], result["anchor_id"]) == (False, "anchor_missing", five[-1].pk)
    assert f"l'événement n° {five[-1].pk} publié auparavant n'existe plus" in error
    assert f"dernier événement : n° {five[2].pk}" in error


def test_a_chain_recomputed_from_a_changed_event_is_found_against_the_published_tip(five):
    """An intruder who rewrites an event and recomputes every link after it leaves a chain consistent with
    itself; the tip kept outside the database no longer matches."""
    published = f"{five[-1].pk}:{five[-1].hash}"
    _tamper("UPDATE audit_auditevent SET target_label = 'Autre chose' WHERE id = %s", [five[1].pk])
    previous = five[0].hash
    for pk in [e.pk for e in five[1:]]:
        row = AuditEvent.objects.filter(pk=pk).values_list(*COLUMNS).get()
        previous = link(previous, content(row))
        _tamper("UPDATE audit_auditevent SET hash = %s WHERE id = %s", [previous, pk])
    assert _verify()[0]["ok"] is True

    result, error = _verify_against(published)
    assert (result["ok"], result["reason"], result["stored_hash"]) == (False, "anchor_changed", previous)
    assert f"l'événement n° {five[-1].pk} n'a plus l'empreinte publiée" in error


def test_the_success_message_gives_the_tip_to_publish(five):
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert f"--expect {five[-1].pk}:{five[-1].hash}" in out.getvalue()


@pytest.mark.parametrize("anchor", ["12", "x:abc", f"12:{'0' * 63}"])
def test_a_malformed_tip_is_refused_in_french(five, anchor):
    with pytest.raises(CommandError, match="--expect attend « numéro:empreinte »"):
        call_command("verify_audit", "--expect", anchor, stdout=io.StringIO())
