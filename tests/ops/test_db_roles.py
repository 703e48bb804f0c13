"""The two database roles: the application's role reads and appends to the audit trail, and can neither change,
delete, empty it nor lift its triggers; the owner cannot empty it either (PostgreSQL)."""

import io
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from amiable.audit.models import AuditEvent
from amiable.audit.services import audit_record

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="roles and grants are PostgreSQL's")


def _event(n: int) -> AuditEvent:
    return audit_record(actor=None, verb="test.roles", target=("test.thing", n, f"Chose {n}"), after={"n": n})


def _verified() -> bool:
    out = io.StringIO()
    call_command("verify_audit", "--json", stdout=out)
    return '"ok": true' in out.getvalue()


@pytest.fixture
def app_role(db):
    """A role of the application made for the test (the test's transaction drops it again)."""
    role = f"amiable_test_app_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN NOINHERIT")
    return role


def _as(role: str, sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute(sql, params)


@postgresql_only
def test_the_application_role_appends_and_reads_but_cannot_change_the_trail(app_role):
    out = io.StringIO()
    call_command("grant_app_role", app_role, stdout=out)
    assert f"Droits donnés au rôle « {app_role} »" in out.getvalue()
    first = _event(1)

    refused = {
        "UPDATE audit_auditevent SET verb = 'x'": "permission denied",
        "DELETE FROM audit_auditevent": "permission denied",
        "TRUNCATE audit_auditevent": "permission denied",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only": "must be owner",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL": "must be owner",
        "DROP TRIGGER audit_auditevent_append_only ON audit_auditevent": "must be owner",
        "SET session_replication_role = replica": "permission denied",
    }
    for sql, message in refused.items():
        with pytest.raises(DatabaseError) as raised, transaction.atomic():
            _as(app_role, sql)
        assert message in str(raised.value), sql

    # It writes the trail as the application does (the chain's lock and tip included) and reads it.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {app_role}")
        second = _event(2)
        assert AuditEvent.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
        assert _verified()
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert AuditEvent.objects.get(pk=first.pk).verb == "test.roles"


@postgresql_only
def test_truncate_is_refused_even_to_a_role_granted_it(app_role):
    _event(1)
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT SELECT, TRUNCATE ON audit_auditevent TO {app_role}")
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        _as(app_role, "TRUNCATE audit_auditevent")
    assert "Le journal d'audit est en ajout seul : TRUNCATE refusé." in str(raised.value)
    assert AuditEvent.objects.exists()


@postgresql_only
def test_grant_app_role_refuses_a_missing_or_owning_role(db):
    with pytest.raises(CommandError, match="« amiable_nobody » n'existe pas"):
        call_command("grant_app_role", "amiable_nobody")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
    with pytest.raises(CommandError, match="superutilisateur|possède des tables"):
        call_command("grant_app_role", owner)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the message of the SQLite database")
def test_grant_app_role_says_roles_are_postgresql_only(db):
    with pytest.raises(CommandError, match="ne concernent que PostgreSQL"):
        call_command("grant_app_role", "amiable_app")
