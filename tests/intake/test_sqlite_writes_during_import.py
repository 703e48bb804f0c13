"""The demo (`make run`) runs on SQLite, where a transaction that writes holds the database's single write lock
from its start (`BEGIN IMMEDIATE`) to its end, and a page that writes (a comment, a login, its session) waits
for it up to the busy timeout, then fails. An import checks every row of its file before its transaction
begins: while a large batch is being checked, the other pages write without waiting."""

import copy
import sqlite3
import threading

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, connections, transaction

from amiable.accounts.models import User
from amiable.cases.models import Case
from amiable.cases.services import comment_add
from amiable.intake import pipeline
from amiable.intake.models import BatchSource
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
