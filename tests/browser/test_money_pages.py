"""The creditor's « Reversements » page in a real browser: a structure-limited collaborator opens it from the
navigation, sees only its structure's remittance, opens it and downloads its statement. No serious or
critical accessibility violation."""

from urllib.parse import urlparse

import pytest

from amiable.audit.models import AccessLogEntry
from tests.browser.test_shell import _axe_serious, _login
from tests.remittances.pages_data import CONTENTS, built_remittance, written_remittance

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_collaborator_opens_the_remittances_and_downloads_a_statement(page, reference, users):
    remittance = built_remittance(structure=reference.csr, actor=users.agent)
    hidden = written_remittance(structure=reference.cdop, weeks_ago=1)
    _login(page, users.csr_only.email)
    page.get_by_role("link", name="Reversements", exact=True).click()
    page.wait_for_url(lambda url: urlparse(url).path == "/portail/reversements/")
    table = page.get_by_role("table").inner_text()
    assert remittance.number in table and hidden.number not in table
    assert _axe_serious(page) == []

    page.get_by_role("link", name=remittance.number, exact=True).click()
    page.wait_for_url(lambda url: urlparse(url).path == f"/portail/reversements/{remittance.pk}/")
    assert "DUPONT Marie" in page.get_by_role("table").inner_text()
    assert page.get_by_role("link", name="Virement SEPA (XML)").count() == 0
    assert _axe_serious(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Relevé (Excel)").click()
    assert download.value.suggested_filename == f"{remittance.number}.xlsx"
    with open(download.value.path(), "rb") as file:
        assert file.read() == CONTENTS["xlsx"]
    assert AccessLogEntry.objects.filter(user=users.csr_only, label__contains=remittance.number).count() == 1
    assert page.console_errors == []
