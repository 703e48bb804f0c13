"""The dashboard and the meeting pages in a real browser: the SVG charts draw under the strict CSP (no console
error), their data tables unfold, and no serious or critical accessibility violation (axe-core)."""

from datetime import date

import pytest

from amiable.creditors.models import ContractTerms
from amiable.reporting.services_meetings import meetings_plan
from amiable.reporting.services_rollup import stats_refresh
from tests.browser.test_shell import _axe_serious, _login
from tests.factories import make_case, pay_in_full

pytestmark = pytest.mark.django_db(transaction=True)


def test_creditor_dashboard_and_meetings_without_violations(page, reference, users):
    pay_in_full(make_case(structure=reference.csr, principal="100.00"))
    make_case(structure=reference.cdop, principal="50.00")
    stats_refresh(creditor=reference.cpam, actor=None)
    ContractTerms.objects.filter(creditor=reference.cpam).update(contract_start=date(2026, 1, 15))
    meetings_plan(today=date(2026, 11, 20))
    _login(page, users.creditor_admin.email)
    dashboard = page.get_by_role("region", name="Tableau de bord")
    assert dashboard.get_by_role("img", name="Montant recouvré par mois").is_visible()
    dashboard.get_by_text("Données du graphique « Taux de recouvrement par structure »").click()
    assert "CSR" in dashboard.get_by_role("table", name="Taux de recouvrement par structure").inner_text()
    assert _axe_serious(page) == []
    page.get_by_role("link", name="Réunions", exact=True).click()
    assert "Réunion à 1 mois" in page.get_by_role("table").inner_text()
    assert _axe_serious(page) == []
    page.get_by_role("link", name="Réunion à 1 mois").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Réunion à 1 mois")
    assert _axe_serious(page) == []
    assert page.console_errors == []
