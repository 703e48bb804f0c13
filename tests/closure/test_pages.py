"""The pages of the end of cases: the supervisor's « Certificats à délivrer » (bulk, one failing case reported),
the documents to return and their marking, the case page's « Fin du dossier » card and its moves, and the
creditor's certificates (downloads logged, never cached) and documents returned; lists in bounded queries."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from amiable.audit.models import AccessLogEntry
from amiable.cases.models import Case, CaseStatus
from amiable.closure.models import Certificate, DocumentReturn
from amiable.closure.services import case_declare_irrecoverable
from tests.factories import make_case, pay_in_full

pytestmark = pytest.mark.django_db


def _due_case(structure, days=10, **kwargs):
    case = make_case(structure=structure, **kwargs)
    Case.objects.filter(pk=case.pk).update(certificate_due_on=timezone.localdate() + timedelta(days=days))
    return case


def _declared(structure, supervisor, **kwargs):
    case = make_case(structure=structure, **kwargs)
    return case_declare_irrecoverable(case=case, reason="deceased", evidence="Acte de décès reçu", actor=supervisor)


def test_certificates_due_lists_cases_in_bounded_queries(client, reference, users, django_assert_max_num_queries):
    client.force_login(users.supervisor)
    _due_case(reference.cdop, days=-3, reference="LATE-1")
    _due_case(reference.csr, days=300, reference="LATER-1")  # not due within two months
    with django_assert_max_num_queries(12) as few:
        page = client.get("/fin/certificats/")
    for _ in range(10):
        _due_case(reference.cdop)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/fin/certificats/")
    body = page.content.decode()
    assert "LATE-1" in body and "en retard" in body and "LATER-1" not in body


def test_only_supervisors_reach_the_certificates_page(client, users):
    client.force_login(users.agent)
    assert client.get("/fin/certificats/").status_code == 403
    client.force_login(users.creditor_admin)
    assert client.get("/fin/certificats/").status_code == 403


def test_bulk_issue_reports_the_failing_case_and_issues_the_others(client, reference, users):
    ok1, paid, ok2 = (_due_case(reference.cdop, reference=r) for r in ("BULK-1", "BULK-2", "BULK-3"))
    pay_in_full(paid, actor=users.agent)
    client.force_login(users.supervisor)
    response = client.post(
        "/fin/certificats/",
        {
            "cases": [ok1.pk, paid.pk, ok2.pk],
            "reason": "untraceable",
            "evidence": "Recherches sans résultat",
            "confirm": "on",
        },
        follow=True,
    )
    body = response.content.decode()
    assert Certificate.objects.filter(case__in=[ok1, ok2]).count() == 2
    assert not Certificate.objects.filter(case=paid).exists()
    assert "2 certificat(s) délivré(s)" in body
    assert "Dossier BULK-2 : Le dossier BULK-2 est « soldé »" in body


def test_bulk_issue_without_confirmation_issues_nothing(client, reference, users):
    case = _due_case(reference.cdop)
    client.force_login(users.supervisor)
    client.post("/fin/certificats/", {"cases": [case.pk], "reason": "untraceable", "evidence": "x"})
    assert not Certificate.objects.exists()


def test_declare_from_the_case_page_with_its_evidence_file(client, reference, users):
    case = make_case(structure=reference.cdop, reference="PAGE-1")
    client.force_login(users.supervisor)
    page = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert "Fin du dossier" in page and "Déclarer irrécouvrable" in page and "Lever la suspension" not in page
    response = client.post(
        f"/fin/dossiers/{case.pk}/irrecouvrable/",
        {
            "reason": "deceased",
            "evidence": "Acte de décès",
            "evidence_file": SimpleUploadedFile("acte.pdf", b"%PDF-1.4 acte"),
            "confirm": "on",
        },
        follow=True,
    )
    certificate = Certificate.objects.get(case=case)
    body = response.content.decode()
    assert f"certificat {certificate.number} délivré" in body
    assert "Rouvrir le dossier" in body and "Pièces à restituer au créancier" in body
    evidence = client.get(f"/fin/justificatifs/{certificate.closure_id}/")
    assert b"".join(evidence.streaming_content) == b"%PDF-1.4 acte"
    assert evidence["Cache-Control"] == "private, no-store"


def test_an_agent_sees_no_moves_and_cannot_post_them(client, reference, users):
    case = make_case(structure=reference.cdop)
    client.force_login(users.agent)
    assert "Déclarer irrécouvrable" not in client.get(f"/dossiers/{case.pk}/").content.decode()
    response = client.post(f"/fin/dossiers/{case.pk}/fin-de-contrat/", {"reason": "Fin", "confirm": "on"}, follow=True)
    assert "Seuls les superviseurs et administrateurs" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW


def test_reopen_and_lift_from_the_case_page(client, reference, users):
    certificate = _declared(reference.cdop, users.supervisor)
    client.force_login(users.supervisor)
    client.post(f"/fin/dossiers/{certificate.case_id}/reouverture/", {"reason": "Retrouvé", "confirm": "on"})
    case = Case.objects.get(pk=certificate.case_id)
    assert case.status == CaseStatus.IN_PROGRESS
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.SUSPENDED)
    client.post(f"/fin/dossiers/{case.pk}/levee-suspension/", {"reason": "Levée"})  # no confirmation
    case.refresh_from_db()
    assert case.status == CaseStatus.SUSPENDED
    client.post(f"/fin/dossiers/{case.pk}/levee-suspension/", {"reason": "Levée", "confirm": "on"})
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS


def test_returns_page_lists_and_marks_in_bounded_queries(client, reference, users, django_assert_max_num_queries):
    first = _declared(reference.cdop, users.supervisor, reference="RET-1")
    client.force_login(users.agent)
    with django_assert_max_num_queries(12) as few:
        client.get("/fin/restitutions/")
    for _ in range(5):
        _declared(reference.csr, users.supervisor)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get("/fin/restitutions/").content.decode()
    assert "RET-1" in body and first.number in body and "dans les délais" in body
    returned = DocumentReturn.objects.get(case=first.case)
    client.post(f"/fin/restitutions/{returned.pk}/", {"returned_on": timezone.localdate().isoformat(), "note": "Remis"})
    returned.refresh_from_db()
    assert returned.returned_on == timezone.localdate()
    assert Case.objects.get(pk=first.case_id).status == CaseStatus.CLOSED
    assert "RET-1" in client.get("/fin/restitutions/?etat=returned").content.decode()
    assert "RET-1" not in client.get("/fin/restitutions/?etat=pending").content.decode()


def test_the_creditor_lists_and_downloads_its_certificates(client, reference, users, django_assert_max_num_queries):
    certificate = _declared(reference.cdop, users.supervisor, reference="CRED-1")
    other = _declared(reference.other_structure, users.supervisor, reference="AUTRE-1")
    client.force_login(users.creditor_admin)
    with django_assert_max_num_queries(14) as few:
        client.get("/portail/certificats/")
    for _ in range(5):
        _declared(reference.csr, users.supervisor)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get("/portail/certificats/").content.decode()
    assert certificate.number in body and "CRED-1" in body and other.number not in body
    response = client.get(f"/portail/certificats/{certificate.pk}/pdf/")
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert AccessLogEntry.objects.filter(user=users.creditor_admin, label__contains=certificate.number).exists()
    assert client.get(f"/portail/certificats/{other.pk}/pdf/").status_code == 404
    case_page = client.get(f"/dossiers/{certificate.case_id}/").content.decode()
    assert f"/portail/certificats/{certificate.pk}/pdf/" in case_page and "Déclarer irrécouvrable" not in case_page


def test_the_creditor_sees_the_items_and_the_date_returned(client, reference, users):
    certificate = _declared(reference.cdop, users.supervisor, reference="CRED-2")
    returned = DocumentReturn.objects.get(case=certificate.case)
    client.force_login(users.agent)
    client.post(f"/fin/restitutions/{returned.pk}/", {"returned_on": timezone.localdate().isoformat()})
    client.force_login(users.collaborator)
    body = client.get("/portail/restitutions/").content.decode()
    assert "CRED-2" in body and certificate.number in body
    assert f"Le {timezone.localdate():%d/%m/%Y}" in body
    assert client.post(f"/fin/restitutions/{returned.pk}/", {"returned_on": "2026-01-01"}).status_code == 403


def test_agency_staff_are_sent_to_their_own_pages(client, users):
    client.force_login(users.supervisor)
    assert client.get("/portail/certificats/")["Location"] == "/fin/certificats/"
    assert client.get("/portail/restitutions/")["Location"] == "/fin/restitutions/"
