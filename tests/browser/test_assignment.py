"""A supervisor assigns ten unassigned cases in bulk from the home page's banner; the agent then finds them
in « Mes dossiers »."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.test_shell import _login
from tests.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True)


def _axe_serious(page) -> list[str]:
    """Serious or critical axe violations of the page's main content (the list, its forms and table); the
    header's contrast belongs to the phone-width work of the same issue."""
    results = Axe().run(page, context="main")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_supervisor_assigns_ten_unassigned_cases_in_bulk(page, reference, users):
    cases = [make_case(structure=reference.csr, reference=f"LIBRE-{n:02d}", last_name=f"Libre{n}") for n in range(12)]
    mine = make_case(structure=reference.cdop, reference="DEJA-MIEN", assigned_agent=users.agent)

    _login(page, users.supervisor.email)
    page.get_by_role("link", name=re.compile(r"12 dossiers ouverts sans gestionnaire")).click()
    page.wait_for_url(re.compile(r"/dossiers/\?agent=aucun"))
    expect(page.locator(".result-count")).to_contain_text("12 dossiers trouvés.")
    assert _axe_serious(page) == []

    chosen = sorted(cases, key=lambda c: c.reference)[:10]
    page.get_by_role("link", name=re.compile("^Référence")).click()  # sort by reference, ascending
    page.wait_for_url(re.compile(r"sort=reference"))
    for case in chosen:
        page.get_by_label(f"Sélectionner le dossier {case.reference}").check()
    page.get_by_label("Attribuer à…").select_option(label=str(users.agent))
    page.get_by_role("button", name="Attribuer les dossiers cochés").click()

    expect(page.get_by_text(f"10 dossiers attribués à {users.agent}.")).to_be_visible()
    assert "agent=aucun" in page.url and "sort=reference" in page.url  # back to the same list
    expect(page.locator(".result-count")).to_contain_text("2 dossiers trouvés.")
    assert page.console_errors == []

    page.context.clear_cookies()
    _login(page, users.agent.email)
    page.get_by_role("link", name="Voir tous mes dossiers").click()
    expect(page.locator(".result-count")).to_contain_text("11 dossiers trouvés.")
    listed = page.locator("tbody th[scope=row] a").all_inner_texts()
    assert set(listed) == {c.reference for c in chosen} | {mine.reference}
    assert _axe_serious(page) == []
