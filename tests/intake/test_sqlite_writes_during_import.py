"""The demo (`make run`) runs on SQLite, where a transaction that writes holds the database's single write lock
from its start (`BEGIN IMMEDIATE`) to its end, and a page that writes (a comment, a login, its session) waits
for it up to the busy timeout, then fails. An import checks every row of its file before its transaction
begins: while a large batch is being checked, the other pages write without waiting."""

import copy
import io
import json
import sqlite3
import threading

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import connection, connections, transaction

from amiable.accounts.models import User
from amiable.audit.models import AuditEvent, PersonalDataKey
from amiable.audit.personal import Sealer, is_encrypted, reveal
from amiable.cases.models import Case
from amiable.cases.services import comment_add
from amiable.intake import pipeline, services
from amiable.intake.models import Batch, BatchSource
from amiable.intake.services import batch_import
from tests.factories import make_case

HEADER = "reference;structure;nom;solde"


def batch_file(count: int) -> bytes:
    lines = [HEADER, *(f"IMP-{n};CSR;Dupont;10,00" for n in range(1, count + 1))]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.django_db(transaction=True)
def test_rows_are_checked_before_the_write_transaction_begins(reference, media, monkeypatch):
    """On SQLite the checks run before the import's transaction, the writes inside it. PostgreSQL, whose
    transactions lock rows and not the database, checks the rows as it writes them, without a temporary file."""
    in_transaction: dict[str, list[bool]] = {"check": [], "write": []}
    real_check, real_write = pipeline.check_row, pipeline.write_chunk

    def check_row(row, **kwargs):
        in_transaction["check"].append(connection.in_atomic_block)
        return real_check(row, **kwargs)

    def write_chunk(rows, **kwargs):
        in_transaction["write"].append(connection.in_atomic_block)
        return real_write(rows, **kwargs)

    monkeypatch.setattr(pipeline, "check_row", check_row)
    monkeypatch.setattr(pipeline, "write_chunk", write_chunk)

    outcome = batch_import(
        creditor=reference.cpam, content=batch_file(12), filename="lot.csv", source=BatchSource.COMMAND, actor=None
    )

    assert outcome.status == "accepted" and outcome.accepted == 12
    checked_inside = connection.vendor != "sqlite"
    assert in_transaction == {"check": [checked_inside] * 12, "write": [True]}


def _on_file(path, *, timeout: float | None = None) -> None:
    """Point this thread's connection at the SQLite file, opened as the project opens its database (WAL…)."""
    wrapper = connections["default"]
    wrapper.close()
    settings_dict = copy.deepcopy(wrapper.settings_dict)
    settings_dict["NAME"] = str(path)
    if timeout is not None:
        settings_dict["OPTIONS"]["timeout"] = timeout  # fail fast rather than after the project's 20 s
    wrapper.settings_dict = settings_dict


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL writers lock rows, not the database")
@pytest.mark.django_db(transaction=True)
def test_a_page_writes_while_an_import_checks_its_rows(reference, users, media, monkeypatch, tmp_path):
    case = make_case(structure=reference.csr)
    path = tmp_path / "amiable.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as copy_to:
        connection.connection.backup(copy_to)  # the test database, as a file like the demo's
    copy_to.close()

    checking, release = threading.Event(), threading.Event()
    real_check = pipeline.check_row

    def check_row(row, **kwargs):
        if not checking.is_set():  # the import stops in the middle of its checks until the page has written
            checking.set()
            assert release.wait(30)
        return real_check(row, **kwargs)

    monkeypatch.setattr(pipeline, "check_row", check_row)
    results: dict[str, object] = {}

    def run_import():
        _on_file(path)
        try:
            results["import"] = batch_import(
                creditor=reference.cpam,
                content=batch_file(30),
                filename="lot.csv",
                source=BatchSource.COMMAND,
                actor=None,
            )
        except Exception as exc:  # reported to the test's thread
            results["import"] = exc
        finally:
            release.set()
            connections.close_all()

    def page_writes():
        _on_file(path, timeout=0.5)
        try:
            with transaction.atomic():
                session = SessionStore()
                session["seen"] = True
                session.create()
            agent = User.objects.get(pk=users.agent.pk)
            comment_add(case=Case.objects.get(pk=case.pk), author=agent, body="Rappel demandé", internal=True)
            results["page"] = "written"
        except Exception as exc:  # "database is locked" if the import held the write lock
            results["page"] = exc
        finally:
            connections.close_all()

    importer = threading.Thread(target=run_import)
    importer.start()
    try:
        assert checking.wait(30), "the import never started checking its rows"
        page = threading.Thread(target=page_writes)
        page.start()
        page.join(30)
    finally:
        release.set()
        importer.join(60)

    assert results["page"] == "written", results["page"]
    outcome = results["import"]
    assert not isinstance(outcome, Exception), outcome
    assert outcome.status == "accepted" and outcome.accepted == 30
    with sqlite3.connect(path) as stored:
        assert stored.execute("SELECT COUNT(*) FROM cases_comment").fetchone()[0] == 1
        assert stored.execute("SELECT COUNT(*) FROM django_session").fetchone()[0] == 1
        assert stored.execute("SELECT COUNT(*) FROM cases_case WHERE reference LIKE 'IMP-%'").fetchone()[0] == 30
    stored.close()


def _import_sealing(reference, monkeypatch) -> tuple[object, list[bool]]:
    """Import 12 rows; whether each case event was sealed inside a transaction."""
    sealed_inside: list[bool] = []
    real_seal = Sealer.seal

    def seal(self, data):
        if "line" in data:  # a case's `case.created` event
            sealed_inside.append(connection.in_atomic_block)
        return real_seal(self, data)

    monkeypatch.setattr(Sealer, "seal", seal)
    outcome = batch_import(
        creditor=reference.cpam, content=batch_file(12), filename="lot.csv", source=BatchSource.COMMAND, actor=None
    )
    assert outcome.status == "accepted" and outcome.accepted == 12
    return outcome, sealed_inside


def _case_events_hold(outcome) -> None:
    """The cases' events bear the batch's real numbers, read back decrypted, and the audit chain holds."""
    batch = Batch.objects.get(pk=outcome.batch.pk)
    events = list(AuditEvent.objects.filter(verb="case.created").order_by("pk"))
    reveal(events)
    assert [(e.after["batch"], e.after["acknowledgement"], e.after["line"]) for e in events] == [
        (batch.number, batch.acknowledgement_number, n) for n in range(1, 13)
    ]
    assert [e.after["reference"] for e in events] == [f"IMP-{n}" for n in range(1, 13)]
    stored = AuditEvent.objects.filter(verb="case.created").values_list("after", flat=True)  # as stored
    assert all(is_encrypted(after["reference"]) for after in stored)
    out = io.StringIO()
    call_command("verify_audit", "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"]


@pytest.mark.django_db(transaction=True)
def test_the_cases_events_are_sealed_before_the_write_transaction(reference, media, monkeypatch):
    """On SQLite the cases' audit events are sealed (their personal values encrypted) with the numbers foreseen
    while the rows are checked, outside the transaction that holds the write lock; PostgreSQL seals them as it
    writes. Either way the stored events are the same and the chain holds."""
    Sealer(creditor_pk=reference.cpam.pk)  # the creditor's key exists, as after its first case

    outcome, sealed_inside = _import_sealing(reference, monkeypatch)

    assert sealed_inside == [connection.vendor != "sqlite"] * 12
    _case_events_hold(outcome)


@pytest.mark.django_db(transaction=True)
def test_events_sealed_for_other_numbers_are_sealed_again(reference, media, monkeypatch):
    """Another batch numbered between the check and the transaction: the events sealed ahead bear numbers the
    batch does not get, and are made again inside the transaction with its real ones."""
    Sealer(creditor_pk=reference.cpam.pk)
    monkeypatch.setattr(services, "_numbers_foreseen", lambda year: (f"LOT-{year}-999999", f"AR-{year}-999999"))

    outcome, sealed_inside = _import_sealing(reference, monkeypatch)

    assert sealed_inside == ([False] * 12 if connection.vendor == "sqlite" else []) + [True] * 12
    _case_events_hold(outcome)


@pytest.mark.django_db(transaction=True)
def test_no_data_key_is_made_ahead_of_the_transaction(reference, media, monkeypatch):
    """A creditor's first batch: making its data key ahead would be a write outside the import's transaction, so
    the events are then sealed inside it, where the key is made."""
    assert Sealer.existing(creditor_pk=reference.cpam.pk) is None
    assert not PersonalDataKey.objects.filter(creditor_pk=reference.cpam.pk).exists()

    outcome, sealed_inside = _import_sealing(reference, monkeypatch)

    assert sealed_inside == [True] * 12
    assert PersonalDataKey.objects.filter(creditor_pk=reference.cpam.pk).count() == 1
    _case_events_hold(outcome)


@pytest.mark.django_db(transaction=True)
def test_a_failure_while_preparing_the_rows_writes_nothing(reference, media, monkeypatch):
    """The rows prepared ahead (search columns, sealed events) live only in the import's private spool: a failure
    half-way through leaves no batch, case, event or key behind, and the file can be sent again."""
    Sealer(creditor_pk=reference.cpam.pk)
    keys, events = PersonalDataKey.objects.count(), AuditEvent.objects.count()
    monkeypatch.setattr(pipeline, "CHUNK", 5)
    real_prepare, calls = pipeline.prepare, []

    def prepare(rows, **kwargs):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("panne")
        return real_prepare(rows, **kwargs)

    monkeypatch.setattr(pipeline, "prepare", prepare)
    if connection.vendor != "sqlite":  # nothing is prepared ahead: the rows are checked and sealed as written
        assert (
            batch_import(
                creditor=reference.cpam,
                content=batch_file(12),
                filename="lot.csv",
                source=BatchSource.COMMAND,
                actor=None,
            ).accepted
            == 12
        )
        assert calls == []
        return
    with pytest.raises(RuntimeError):
        batch_import(
            creditor=reference.cpam, content=batch_file(12), filename="lot.csv", source=BatchSource.COMMAND, actor=None
        )

    assert calls == [5, 5]
    assert not Batch.objects.exists() and not Case.objects.filter(reference__startswith="IMP-").exists()
    assert (PersonalDataKey.objects.count(), AuditEvent.objects.count()) == (keys, events)
