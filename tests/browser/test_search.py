"""The case search in a real browser: an agent finds « François » by typing « francois », and a query with
nothing to search is refused beside the field, not silently ignored."""

import pytest

from amiable.cases.services import contact_point_add
from tests.browser.test_shell import _axe_serious, _login
from tests.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True)

SEARCH = "Rechercher (référence, nom, téléphone ou e-mail)"


def test_agent_finds_francois_by_typing_francois(page, reference, users):
    francois = make_case(
        structure=reference.csr, reference="CPAM-2026-000412", last_name="Dupont", first_name="François"
    )
    contact_point_add(debtor=francois.debtor, kind="phone", value="+33612345678", source="Fichier", actor=None)
    make_case(structure=reference.csr, reference="CPAM-2026-000977", last_name="Lefèvre", first_name="Éric")
    _login(page, users.agent.email)
    page.goto("/dossiers/")

    page.get_by_label(SEARCH).fill("francois")
    page.get_by_role("button", name="Rechercher").click()

    table = page.get_by_role("table")
    assert "François" in table.inner_text()
    assert "CPAM-2026-000412" in table.inner_text()
    assert "CPAM-2026-000977" not in table.inner_text()
    assert "1 dossier trouvé." in page.get_by_role("status").inner_text()
    assert _axe_serious(page) == []

    # The same debtor by the phone as it is read out on a call.
    page.get_by_label(SEARCH).fill("06 12 34 56 78")
    page.get_by_role("button", name="Rechercher").click()
    assert "CPAM-2026-000412" in page.get_by_role("table").inner_text()


def test_a_query_with_nothing_to_search_is_refused_beside_the_field(page, reference, users):
    make_case(structure=reference.csr, reference="CPAM-2026-000412", last_name="Dupont", first_name="François")
    _login(page, users.agent.email)
    page.goto("/dossiers/")

    page.get_by_label(SEARCH).fill("- !")
    page.get_by_role("button", name="Rechercher").click()

    field = page.get_by_label(SEARCH)
    assert field.input_value() == "- !"
    assert field.get_attribute("aria-invalid") == "true"
    error = page.locator(f"#{field.get_attribute('aria-describedby')}")
    assert "Saisissez au moins 2 lettres ou chiffres" in error.inner_text()
    assert "Recherche refusée" in page.get_by_role("status").inner_text()
    assert "CPAM-2026-000412" not in page.content()
    assert _axe_serious(page) == []
    # The field does not let more than 100 characters be typed.
    assert field.get_attribute("maxlength") == "100"
