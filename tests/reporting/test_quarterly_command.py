"""`manage.py build_quarterly_report`: per creditor, the quarter given or the last complete one; idempotent
unless --force; --json prints what was built; a bad quarter or an unknown creditor is refused in French."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from amiable.audit.models import AuditEvent
from amiable.creditors.models import Creditor
from amiable.reporting.models import QuarterlyReport
from amiable.reporting.services_quarterly import quarterly_report_build
from tests.reporting.quarterly_data import BUILT

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.django_db


def _run(*args) -> dict:
    out = io.StringIO()
    with time_machine.travel(BUILT, tick=False):
        call_command("build_quarterly_report", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_json_prints_what_was_built_and_a_second_run_builds_nothing(reference):
    first = _run("--quarter", "2026-Q3", "--creditor", "cpam-paris")
    assert first["quarter"] == "2026-Q3" and first["period"] == ["2026-07-01", "2026-09-30"]
    [row] = first["reports"]
    report = QuarterlyReport.objects.get()
    assert row == {
        "creditor": "cpam-paris",
        "quarter": "2026-Q3",
        "file": report.xlsx.name,
        "sha256": report.xlsx_sha256,
        "built": True,
        "figures": report.summary,
    }
    assert row["figures"]["received"] == 0 and row["figures"]["rate_by_amount"] is None
    assert report.built_by is None  # the system

    again = _run("--quarter", "2026-Q3", "--creditor", "cpam-paris")
    assert again["reports"][0] == {**row, "built": False}
    assert AuditEvent.objects.filter(verb="quarterly_report.built").count() == 1

    forced = _run("--quarter", "2026-Q3", "--creditor", "cpam-paris", "--force")
    assert forced["reports"][0]["built"] is True
    assert forced["reports"][0]["sha256"] == QuarterlyReport.objects.get().xlsx_sha256
    assert AuditEvent.objects.filter(verb="quarterly_report.built").count() == 2


def test_a_partial_workbook_is_built_again_a_final_one_left_as_it_is(reference, users):
    """Built from the portal during the quarter, the workbook is partial: the run after the quarter builds it
    again (same row, so the meeting packs point to the whole quarter's figures); the next run leaves it."""
    with time_machine.travel("2026-09-20 10:00 +02:00", tick=False):
        partial = quarterly_report_build(creditor=reference.cpam, quarter="2026-Q3", actor=users.creditor_admin)
    first = _run("--quarter", "2026-Q3", "--creditor", "cpam-paris")
    assert first["reports"][0]["built"] is True
    report = QuarterlyReport.objects.get()
    assert report.pk == partial.pk and report.built_at == BUILT and report.built_by is None
    assert report.xlsx_sha256 != partial.xlsx_sha256
    again = _run("--quarter", "2026-Q3", "--creditor", "cpam-paris")
    assert again["reports"][0]["built"] is False
    assert AuditEvent.objects.filter(verb="quarterly_report.built").count() == 2
    out = io.StringIO()
    with time_machine.travel(BUILT, tick=False):
        call_command("build_quarterly_report", "--quarter", "2026-Q3", "--creditor", "cpam-paris", stdout=out)
    assert "cpam-paris" in out.getvalue() and "définitif, déjà produit (--force pour le refaire)" in out.getvalue()


def test_without_options_the_last_complete_quarter_of_every_active_creditor(reference):
    Creditor.objects.create(slug="inactif", name="Créancier inactif", is_active=False)
    result = _run()
    assert result["quarter"] == "2026-Q3"  # built on 15 October 2026
    assert [r["creditor"] for r in result["reports"]] == ["autre-creancier", "cpam-paris"]
    assert set(QuarterlyReport.objects.values_list("creditor__slug", flat=True)) == {"autre-creancier", "cpam-paris"}


def test_a_bad_quarter_or_an_unknown_creditor_is_refused_in_french(reference):
    with pytest.raises(CommandError, match=r"Trimestre invalide : « 2026-Q5 » \(attendu AAAA-Qn"):
        call_command("build_quarterly_report", "--quarter", "2026-Q5")
    with pytest.raises(CommandError, match="Créancier inconnu : « personne »"):
        call_command("build_quarterly_report", "--quarter", "2026-Q3", "--creditor", "personne")
    with time_machine.travel(BUILT, tick=False), pytest.raises(CommandError, match="n'a pas commencé"):
        call_command("build_quarterly_report", "--quarter", "2027-Q2")
    assert not QuarterlyReport.objects.exists()


def test_the_exit_code_of_a_refusal():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    done = subprocess.run(
        [sys.executable, "manage.py", "build_quarterly_report", "--quarter", "2026-13"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "Trimestre invalide : « 2026-13 »" in done.stderr
