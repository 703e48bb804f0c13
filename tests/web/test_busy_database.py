"""A page that writes while SQLite's only write lock is held (a large import storing its rows) waits for the
busy timeout, then fails: the person reads that the database is busy and nothing was recorded (503,
Retry-After), not « Erreur du serveur »; any other fault still gets the server-error page."""

import copy
import html
import sqlite3
import threading
import uuid

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client

from amiable.cases.models import Comment
from tests.factories import make_case


def _on_file(path, *, timeout: float) -> None:
    """Point this thread's connection at the SQLite file, opened as the project opens its database (WAL…)."""
    wrapper = connections["default"]
    wrapper.close()
    settings_dict = copy.deepcopy(wrapper.settings_dict)
    settings_dict["NAME"] = str(path)
    settings_dict["OPTIONS"]["timeout"] = timeout  # fail fast rather than after the project's 20 s
    wrapper.settings_dict = settings_dict


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL writers lock rows, not the database")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("once_token", [False, True], ids=["view", "one-time token"])
@pytest.mark.parametrize("debug", [False, True], ids=["production", "demo"])
def test_a_comment_posted_while_the_database_is_locked_says_so_and_records_nothing(
    reference, users, tmp_path, settings, debug, once_token
):
    """The lock is met by the view's service, or before it by the claim of the form's one-time token."""
    settings.DEBUG = debug  # the demo (`make run`) runs with DEBUG on
    case = make_case(structure=reference.csr)
    path = tmp_path / "amiable.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as copy_to:
        connection.connection.backup(copy_to)  # the test database, as a file like the demo's
    copy_to.close()
    results = {}

    def page():
        _on_file(path, timeout=0.3)
        try:
            client = Client(raise_request_exception=False)
            client.force_login(users.agent)
            importer = sqlite3.connect(path, isolation_level=None)
            importer.execute("BEGIN IMMEDIATE")  # what an import's transaction holds while it stores its rows
            try:
                data = {"body": "Rappel demandé", "internal": "on"}
                if once_token:
                    data["_once"] = str(uuid.uuid4())
                results["response"] = client.post(f"/dossiers/{case.pk}/commentaires/", data)
            finally:
                importer.execute("ROLLBACK")
                importer.close()
        finally:
            connections.close_all()

    thread = threading.Thread(target=page)
    thread.start()
    thread.join(60)

    response = results["response"]
    assert response.status_code == 503 and response["Retry-After"] == "60"
    text = html.unescape(response.content.decode())
    assert "Base de données occupée" in text and "Rien n'a été enregistré." in text
    with sqlite3.connect(path) as stored:
        assert stored.execute("SELECT COUNT(*) FROM cases_comment").fetchone()[0] == 0
        assert stored.execute("SELECT COUNT(*) FROM core_formsubmission").fetchone()[0] == 0
    stored.close()


def test_any_other_fault_gets_the_server_error_page(reference, users, client, monkeypatch):
    def broken(**kwargs):
        raise OperationalError("no such table: cases_comment")

    monkeypatch.setattr("amiable.portal.views.comment_add", broken)
    case = make_case(structure=reference.csr)
    client.raise_request_exception = False
    client.force_login(users.agent)

    response = client.post(f"/dossiers/{case.pk}/commentaires/", {"body": "Rappel"})

    assert response.status_code == 500 and "Retry-After" not in response
    assert "Erreur du serveur" in response.content.decode()
    assert not Comment.objects.exists()
