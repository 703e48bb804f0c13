"""The daily print files name every debtor written to that day: they are removed after the retention period,
by `purge_print_files` (run by `run_daily`), and the purge is audited."""

import io
from datetime import date, timedelta

from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.letters.print_batch import print_batch_build, print_files_purge
from tests.letters.test_print_batch import DAY, files, letters, print_dir  # noqa: F401 (fixture)

OLD_NAMES = ["2026-10-01.pdf", "2026-10-01.csv", "2026-10-01-2.pdf", "2026-10-01-2.csv"]


def _write(*names: str) -> None:
    print_dir().mkdir(parents=True, exist_ok=True)
    for name in names:
        (print_dir() / name).write_bytes(b"x")


def test_files_older_than_the_retention_are_deleted_and_the_purge_audited(db):
    _write(*OLD_NAMES, "2026-10-02.pdf", "2026-10-02.csv", "notes.txt")

    deleted = print_files_purge(days=30, today=date(2026, 11, 1))  # limit: 2 October 2026

    assert deleted == sorted(f"print/{name}" for name in OLD_NAMES)
    assert files() == {"2026-10-02.pdf", "2026-10-02.csv", "notes.txt"}  # the day at the limit is kept
    event = AuditEvent.objects.get(verb="letters.print_files_purged")
    assert event.actor is None
    assert event.after["files"] == deleted and event.after["days"] == 30
    assert event.after["before"] == "2026-10-02"


def test_nothing_to_purge_records_nothing(db):
    assert print_files_purge(days=30, today=date(2026, 11, 1)) == []  # no print folder yet
    _write("2026-10-20.pdf")
    assert print_files_purge(days=30, today=date(2026, 11, 1)) == []
    assert files() == {"2026-10-20.pdf"}
    assert not AuditEvent.objects.filter(verb="letters.print_files_purged").exists()


def test_a_real_run_s_files_go_after_the_retention(users, letters):  # noqa: F811
    print_batch_build(day=DAY, actor=users.agent)
    assert files() == {"2026-11-02.pdf", "2026-11-02.csv"}

    assert print_files_purge(days=30, today=DAY + timedelta(days=30)) == []
    assert print_files_purge(days=30, today=DAY + timedelta(days=31)) == [
        "print/2026-11-02.csv",
        "print/2026-11-02.pdf",
    ]
    assert files() == set()


@override_settings(AMIABLE_PRINT_KEEP_DAYS=10)
def test_the_command_reads_the_setting(db):
    today = timezone.localdate()
    old, recent = today - timedelta(days=11), today - timedelta(days=10)
    _write(f"{old:%Y-%m-%d}.pdf", f"{recent:%Y-%m-%d}.pdf")
    out = io.StringIO()

    call_command("purge_print_files", stdout=out)

    assert files() == {f"{recent:%Y-%m-%d}.pdf"}
    assert "1 fichier(s) d'impression de plus de 10 jours supprimé(s)" in out.getvalue()


def test_the_command_takes_a_retention_in_days(db):
    today = timezone.localdate()
    _write(f"{today - timedelta(days=3):%Y-%m-%d}.csv")

    call_command("purge_print_files", "--days", "2", stdout=io.StringIO())

    assert files() == set()
