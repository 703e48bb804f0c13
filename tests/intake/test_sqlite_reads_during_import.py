"""The demo (`make run`) runs on SQLite, where an import holds the single write lock for its whole transaction.
Pages that only read must not wait for it: the project's SQLite settings (WAL journal) let another connection
read at once, and see none of the import's rows before it commits (nothing half-written)."""

import copy

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper


def project_connection(path):
    """A raw connection opened exactly as the project opens its SQLite database (journal mode, timeout…)."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict["NAME"] = str(path)
    wrapper = DatabaseWrapper(settings_dict, alias="probe")
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    raw.isolation_level = None  # explicit BEGIN / COMMIT, as Django's atomic blocks do
    return raw


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL readers never wait for writers (MVCC)")
def test_a_page_reads_while_an_import_transaction_is_open(tmp_path):
    importer = project_connection(tmp_path / "amiable.sqlite3")
    importer.execute("CREATE TABLE cases (reference TEXT, payload BLOB)")
    importer.execute("INSERT INTO cases VALUES ('R0', randomblob(10))")
    # An import's transaction: many rows, more than the page cache holds, not committed yet. Without WAL, the
    # rollback journal would then take the exclusive lock and lock every reader out.
    importer.execute("PRAGMA cache_size = 10")
    importer.execute("BEGIN IMMEDIATE")
    importer.executemany("INSERT INTO cases VALUES (?, randomblob(2000))", [(f"R{n}",) for n in range(1, 2001)])

    page = project_connection(tmp_path / "amiable.sqlite3")
    page.execute("PRAGMA busy_timeout = 200")  # fail fast rather than after the project's 20 s
    try:
        assert page.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert page.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 1  # none of the import's rows yet
        importer.execute("COMMIT")
        assert page.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 2001
    finally:
        page.close()
        importer.close()
