"""A creditor collaborator finds the letters sent to the debtor on the case page and downloads one; the card has
no serious or critical accessibility violation."""

import pytest

from amiable.audit.models import AccessLogEntry
from amiable.letters.services import letter_issue
from tests.browser.test_shell import _axe_serious, _login
from tests.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True)


def test_creditor_collaborator_downloads_a_letter_from_the_case_page(page, reference, users):
    case = make_case(structure=reference.csr, reference="COURRIER-1", last_name="Roux", assigned_agent=users.agent)
    letter = letter_issue(case=case, kind="first", actor=users.agent)
    _login(page, users.collaborator.email)
    page.goto(f"/dossiers/{case.pk}/")

    card = page.get_by_role("region", name="Courriers envoyés")
    assert letter.number in card.inner_text()
    assert card.get_by_role("button").count() == 0  # the creditor reads; issuing is the agency's
    assert _axe_serious(page) == []
    link = card.get_by_role("link", name=f"Télécharger le PDF du courrier {letter.number}")
    # Fetched with the browser's session (Chromium would show the PDF inline rather than download it).
    response = page.request.get(link.get_attribute("href"))

    assert response.status == 200 and response.body()[:5] == b"%PDF-"
    assert response.headers["cache-control"] == "private, no-store"
    assert AccessLogEntry.objects.filter(user=users.collaborator, kind="document", case_pk=case.pk).exists()
    assert page.console_errors == []
