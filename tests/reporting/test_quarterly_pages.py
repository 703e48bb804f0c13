"""The « Statistiques » pages: the creditor's in the portal (its own workbooks, produced on demand; another
creditor's workbook is not found), the agency's for every creditor."""

import hashlib

import pytest
import time_machine

from amiable.audit.models import AccessLogEntry
from amiable.reporting.models import QuarterlyReport
from amiable.reporting.services_quarterly import quarterly_report_build
from tests.reporting.quarterly_data import BUILT
from tests.web.test_views import assert_every_control_labelled

pytestmark = pytest.mark.django_db


@pytest.fixture
def reports(reference):
    with time_machine.travel(BUILT, tick=False):
        return {
            "cpam": quarterly_report_build(creditor=reference.cpam, quarter="2026-Q2", actor=None),
            "other": quarterly_report_build(creditor=reference.other, quarter="2026-Q2", actor=None),
        }


def test_the_creditor_sees_and_downloads_its_workbooks_only(client, users, reports):
    client.force_login(users.collaborator)
    page = client.get("/portail/statistiques/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Produire les statistiques d&#x27;un trimestre" in body or "Produire les statistiques d'un trimestre" in body
    assert f"/portail/statistiques/{reports['cpam'].pk}/classeur.xlsx" in body
    assert f"/portail/statistiques/{reports['other'].pk}/" not in body
    assert_every_control_labelled(body)

    download = client.get(f"/portail/statistiques/{reports['cpam'].pk}/classeur.xlsx")
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == reports["cpam"].xlsx_sha256
    assert download["Cache-Control"] == "private, no-store"
    assert "statistiques-cpam-paris-2026-Q2.xlsx" in download["Content-Disposition"]
    assert AccessLogEntry.objects.filter(user=users.collaborator, label="Statistiques trimestrielles 2026-Q2").exists()

    assert client.get(f"/portail/statistiques/{reports['other'].pk}/classeur.xlsx").status_code == 404


def test_another_creditors_user_gets_404_and_a_limited_user_403(client, users, reports):
    client.force_login(users.other_admin)
    assert client.get(f"/portail/statistiques/{reports['cpam'].pk}/classeur.xlsx").status_code == 404
    assert f"/portail/statistiques/{reports['cpam'].pk}/" not in client.get("/portail/statistiques/").content.decode()
    client.force_login(users.csr_only)
    assert client.get("/portail/statistiques/").status_code == 403
    assert client.get(f"/portail/statistiques/{reports['cpam'].pk}/classeur.xlsx").status_code == 404


def test_the_creditor_produces_a_quarter_on_demand(client, users, reference):
    client.force_login(users.creditor_admin)
    with time_machine.travel(BUILT, tick=False):
        response = client.post("/portail/statistiques/", {"quarter": "2026-Q3"}, follow=True)
    assert "Statistiques 2026-Q3 produites" in response.content.decode()
    report = QuarterlyReport.objects.get()
    assert (report.creditor, report.quarter, report.built_by) == (reference.cpam, "2026-Q3", users.creditor_admin)
    with time_machine.travel(BUILT, tick=False):
        refused = client.post("/portail/statistiques/", {"quarter": "2031-Q1"}, follow=True)
    assert "Sélectionnez un choix valide" in refused.content.decode()
    assert QuarterlyReport.objects.count() == 1


def test_the_portal_replaces_a_partial_workbook_but_not_a_final_one(client, users, reference):
    with time_machine.travel("2026-11-02 10:00 +01:00", tick=False):
        client.force_login(users.creditor_admin)  # logged in at each moment: the sessions expire
        client.post("/portail/statistiques/", {"quarter": "2026-Q4"})  # the quarter in progress
        first = QuarterlyReport.objects.get(quarter="2026-Q4")
    with time_machine.travel("2026-11-20 10:00 +01:00", tick=False):
        client.force_login(users.creditor_admin)
        done = client.post("/portail/statistiques/", {"quarter": "2026-Q4"}, follow=True)
    assert "Statistiques 2026-Q4 produites" in done.content.decode()
    second = QuarterlyReport.objects.get(quarter="2026-Q4")
    assert second.built_at > first.built_at and second.xlsx_sha256 != first.xlsx_sha256

    with time_machine.travel(BUILT, tick=False):
        client.force_login(users.creditor_admin)
        client.post("/portail/statistiques/", {"quarter": "2026-Q3"})  # after its end: final
        final = QuarterlyReport.objects.get(quarter="2026-Q3")
    with time_machine.travel("2026-10-20 10:00 +02:00", tick=False):
        client.force_login(users.creditor_admin)
        refused = client.post("/portail/statistiques/", {"quarter": "2026-Q3"}, follow=True)
    assert "sont définitives" in refused.content.decode()
    assert QuarterlyReport.objects.get(quarter="2026-Q3").xlsx_sha256 == final.xlsx_sha256

    # The agency's page replaces it (documented in docs/statistics.md).
    with time_machine.travel("2026-10-20 10:00 +02:00", tick=False):
        client.force_login(users.agent)
        client.post("/statistiques/", {"creditor": reference.cpam.pk, "quarter": "2026-Q3"})
    replaced = QuarterlyReport.objects.get(quarter="2026-Q3")
    assert replaced.built_by == users.agent and replaced.xlsx_sha256 != final.xlsx_sha256


def test_the_agency_page_lists_every_creditor_and_produces_for_one(client, users, reference, reports):
    client.force_login(users.agent)
    body = client.get("/statistiques/").content.decode()
    assert "Autre créancier" in body and f"/statistiques/{reports['cpam'].pk}/classeur.xlsx" in body
    assert_every_control_labelled(body)
    assert client.get(f"/statistiques/{reports['other'].pk}/classeur.xlsx").status_code == 200
    # The agency at the portal's address is sent to its own page.
    assert client.get("/portail/statistiques/").url == "/statistiques/"
    with time_machine.travel(BUILT, tick=False):
        client.post("/statistiques/", {"creditor": reference.other.pk, "quarter": "2026-Q3"})
    assert QuarterlyReport.objects.filter(creditor=reference.other, quarter="2026-Q3", built_by=users.agent).exists()
    # Creditor staff may not use the agency's page.
    client.force_login(users.creditor_admin)
    assert client.get("/statistiques/").status_code == 403
    assert client.get(f"/statistiques/{reports['cpam'].pk}/classeur.xlsx").status_code == 403
