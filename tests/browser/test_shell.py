"""The shell in a real browser: log in by keyboard, reach the home page, search and open a case, no
CSP violation, and no serious or critical accessibility violation (axe-core)."""

from urllib.parse import urlparse

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.factories import PASSWORD, make_case

pytestmark = pytest.mark.django_db(transaction=True)


def _home(url: str) -> bool:
    return urlparse(url).path == "/"


def _axe_serious(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def _login(page, email: str) -> None:
    page.goto("/connexion/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_label("Mot de passe").press("Enter")
    page.wait_for_url(_home)


def test_login_with_keyboard_reaches_home_and_skip_link_works(page, users):
    page.goto("/connexion/")
    assert page.title() == "Connexion — Amiable"
    # The e-mail field has the focus on arrival; the whole login is done with the keyboard.
    assert page.evaluate("document.activeElement.name") == "username"
    page.keyboard.type(users.agent.email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(_home)
    assert page.get_by_role("heading", level=1).inner_text().startswith("Bonjour")
    # First Tab on a page reaches the skip link, which moves the focus to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
    assert page.console_errors == []


def test_wrong_password_shows_french_error(page, users):
    page.goto("/connexion/")
    page.get_by_label("Adresse e-mail").fill(users.agent.email)
    page.get_by_label("Mot de passe").fill("pas-le-bon-mot-de-passe")
    page.get_by_role("button", name="Se connecter").click()
    assert "Adresse e-mail ou mot de passe incorrect" in page.get_by_role("alert").inner_text()


def test_creditor_user_searches_and_opens_a_case_without_accessibility_violations(page, reference, users):
    make_case(structure=reference.csr, reference="CPAM-TEST-0001", last_name="Lemoine", first_name="Anne")
    make_case(structure=reference.other_structure, reference="AUTRE-0001", last_name="Lemoine", first_name="Yves")
    page.goto("/connexion/")
    assert _axe_serious(page) == []
    _login(page, users.collaborator.email)
    assert _axe_serious(page) == []
    page.get_by_role("link", name="Dossiers", exact=True).click()
    page.get_by_label("Rechercher (référence, nom, téléphone ou e-mail)").fill("lemoine")
    page.get_by_role("button", name="Rechercher").click()
    table = page.get_by_role("table")
    assert "CPAM-TEST-0001" in table.inner_text()
    assert "AUTRE-0001" not in page.content()
    assert _axe_serious(page) == []
    page.get_by_role("link", name="CPAM-TEST-0001").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Dossier CPAM-TEST-0001")
    assert "Dossier reçu" in page.get_by_role("region", name="Historique").inner_text()
    assert _axe_serious(page) == []
    assert page.console_errors == []
