"""`run_daily`: every job runs even when another fails, and the command then fails naming the failed ones."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amiable.letters.management.commands import print_batch
from amiable.notifications.management.commands import send_digest
from amiable.ops.management.commands.run_daily import DAILY_JOBS


def _broken(message):
    def handle(self, *args, **options):
        raise RuntimeError(message)

    return handle


def test_run_daily_runs_every_job_in_order(db):
    out, err = io.StringIO(), io.StringIO()

    call_command("run_daily", stdout=out, stderr=err)

    headers = [line[3:] for line in out.getvalue().splitlines() if line.startswith("== ")]
    assert headers == DAILY_JOBS
    assert "a échoué" not in err.getvalue()
    # The print files are purged after the day's print run, before the access log.
    order = [DAILY_JOBS.index(job) for job in ("print_batch", "purge_print_files", "purge_access_log")]
    assert order == sorted(order)
    assert "fichier(s) d'impression de plus de 30 jours supprimé(s)" in out.getvalue()


def test_a_failing_job_does_not_stop_the_others_and_the_command_fails_naming_it(db, monkeypatch):
    monkeypatch.setattr(print_batch.Command, "handle", _broken("imprimante introuvable"))
    monkeypatch.setattr(send_digest.Command, "handle", _broken("relais SMTP injoignable"))
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("run_daily", stdout=out, stderr=err)

    assert str(raised.value) == "Tâches en échec : print_batch, send_digest"
    text = out.getvalue()
    # The jobs after the failed ones ran, with their own output.
    assert [line[3:] for line in text.splitlines() if line.startswith("== ")] == DAILY_JOBS
    assert "supprimée(s) du journal des accès" in text
    # Each failure is on stderr with its traceback.
    errors = err.getvalue()
    assert "La tâche print_batch a échoué" in errors and "RuntimeError: imprimante introuvable" in errors
    assert "La tâche send_digest a échoué" in errors and "RuntimeError: relais SMTP injoignable" in errors
    assert "Traceback (most recent call last)" in errors


def test_run_daily_exits_non_zero_from_the_command_line(db, monkeypatch):
    from django.core.management import ManagementUtility

    monkeypatch.setattr(print_batch.Command, "handle", _broken("panne"))
    monkeypatch.setattr("sys.stdout", io.StringIO())
    monkeypatch.setattr("sys.stderr", err := io.StringIO())

    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "run_daily"]).execute()

    assert exit_.value.code == 1
    assert "Tâches en échec : print_batch" in err.getvalue()
