"""The letters sent to a debtor, on the creditor's view of the case page: listed with their PDFs, which the
creditor's staff download (logged, never cached) and nobody of another creditor or structure reaches."""

import html

import pytest

from amiable.audit.models import AccessLogEntry
from amiable.letters.services import letter_issue
from tests.factories import make_case


@pytest.fixture
def letter(reference, users, gnupg_home):
    case = make_case(structure=reference.cdop, reference="LET-0001", last_name="Martin", assigned_agent=users.agent)
    return letter_issue(case=case, kind="first", actor=users.agent)


@pytest.mark.parametrize("role", ["collaborator", "approver", "creditor_admin"])
def test_creditor_staff_see_the_letters_on_the_case_page(client, users, letter, role, django_assert_max_num_queries):
    client.force_login(getattr(users, role))

    with django_assert_max_num_queries(60):
        response = client.get(f"/dossiers/{letter.case_id}/")

    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "Courriers envoyés" in page and letter.number in page and "Première lettre" in page
    assert f'href="/courriers/{letter.pk}.pdf"' in page
    # The creditor reads; issuing is the agency's.
    assert "Émettre" not in page and "/courriers/dossier/" not in page


def test_a_creditor_collaborator_downloads_a_letter_logged_and_not_cached(client, reference, users, letter):
    client.force_login(users.collaborator)

    response = client.get(f"/courriers/{letter.pk}.pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert response["Cache-Control"] == "private, no-store"
    log = AccessLogEntry.objects.get(kind="document")
    assert (log.user, log.case_pk, log.creditor_pk) == (users.collaborator, letter.case_id, reference.cpam.pk)
    assert letter.number in log.label


@pytest.mark.parametrize("role", ["other_admin", "csr_only"])
def test_another_creditor_or_structure_gets_404(client, users, letter, role):
    client.force_login(getattr(users, role))

    assert client.get(f"/courriers/{letter.pk}.pdf").status_code == 404
    assert not AccessLogEntry.objects.filter(kind="document").exists()


def test_case_page_without_letters_says_so(client, reference, users):
    case = make_case(structure=reference.csr, reference="LET-0002")
    client.force_login(users.collaborator)

    page = html.unescape(client.get(f"/dossiers/{case.pk}/").content.decode())

    assert "Aucun courrier envoyé au débiteur pour l'instant." in page
