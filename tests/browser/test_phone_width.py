"""Each role's daily pages on a phone (390 × 844): nothing scrolls the page sideways, the menu button opens the
navigation, and axe finds no serious or critical violation; the widest pages (remittances, invoices, banking,
statistics, clocks) fit too, their tables scrolling inside their card."""

from urllib.parse import urlparse

import pytest
from django.urls import reverse

from amiable.cases.services import case_assign, comment_add, contact_point_add
from tests.browser.test_shell import _axe_serious, _login
from tests.factories import make_case
from tests.invoicing.pages_data import written_invoice
from tests.remittances.pages_data import built_remittance

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH = 390
LONG_EMAIL = "marie-christine.de-la-fontaine-dupont-lemoine@exemple-de-domaine-particulierement-long.fr"


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        locale="fr-FR",
        timezone_id="Europe/Paris",
        base_url=live_server.url,
        viewport={"width": WIDTH, "height": 844},
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors
    yield page
    context.close()


@pytest.fixture
def case(reference, users):
    """A worked case with long unbroken values, messages both ways (unread notifications: the badge)."""
    case = make_case(
        structure=reference.csr,
        reference="CPAM-2026-000000000041-BIS",
        principal="12345.67",
        last_name="Delafontaine-Dupont-Lemoine",
        first_name="Marie-Christine",
    )
    contact_point_add(debtor=case.debtor, kind="email", value=LONG_EMAIL, source="Courrier", actor=None)
    contact_point_add(debtor=case.debtor, kind="phone", value="+33612345678", source="Appel entrant", actor=None)
    case_assign(case=case, agent=users.agent, actor=users.supervisor)
    comment_add(case=case, author=users.collaborator, body="Pouvez-vous nous dire où en est ce dossier ?")
    comment_add(case=case, author=users.agent, body="Le débiteur a promis un paiement vendredi.")
    return case


# The outermost elements that stick out of the page on the right, to say what is too wide when a page is.
OVERFLOWING = """[...document.querySelectorAll('body, body *')].filter(e => e.getBoundingClientRect().right > 391
  && !(e.parentElement && e.parentElement.getBoundingClientRect().right > 391) && !e.closest('details:not([open])'))
  .slice(0, 20).map(e => e.outerHTML.slice(0, 90) + ' ' + Math.round(e.getBoundingClientRect().right))"""


def _fits(page) -> None:
    """No horizontal scroll: the document is no wider than the phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{urlparse(page.url).path} : {width} px : {page.evaluate(OVERFLOWING)}"


def _visit(page, path: str) -> None:
    page.goto(path)
    assert page.get_by_role("heading", level=1).count() == 1
    _fits(page)
    assert _axe_serious(page) == [], urlparse(page.url).path


def _menu_opens_the_navigation(page) -> None:
    nav = page.get_by_role("navigation", name="Navigation principale")
    assert not nav.is_visible()  # closed at phone width: the page starts with its content
    page.get_by_text("Menu", exact=True).click()
    assert nav.is_visible()
    assert nav.get_by_role("link", name="Dossiers", exact=True).is_visible()
    assert page.get_by_role("button", name="Se déconnecter").is_visible()
    _fits(page)
    assert _axe_serious(page) == []  # the header's colours, badge included, once shown
    page.get_by_text("Menu", exact=True).click()
    assert not nav.is_visible()


@pytest.mark.parametrize("role", ["agent", "supervisor", "collaborator"])
def test_each_role_home_cases_case_and_day_fit_a_phone(phone, case, users, role):
    user = getattr(users, role)
    _login(phone, user.email)
    _fits(phone)
    assert _axe_serious(phone) == []
    _menu_opens_the_navigation(phone)

    pages = ["/", reverse("case_list"), reverse("case_detail", args=[case.pk])]
    if user.is_agency:
        pages.append(reverse("work:day"))
    for path in pages:
        _visit(phone, path)

    phone.goto(reverse("case_detail", args=[case.pk]))
    # The long e-mail address stays inside the page; the summary gives the balance (and the next action).
    summary = phone.get_by_role("region", name="Résumé du dossier")
    assert "12 345,67" in summary.inner_text().replace("\u202f", " ")
    # The next action is the agency's to-do list: creditor staff see the balance, not the tasks planned.
    assert ("Aucune action prévue" in summary.inner_text()) == user.is_agency
    # At phone width the summary is in the normal flow, not stuck over the content.
    assert phone.evaluate("getComputedStyle(document.querySelector('.case-summary')).position") == "static"
    # A wide table scrolls inside its card, reachable with the keyboard.
    region = phone.get_by_role("region", name="Coordonnées connues")
    assert region.get_attribute("tabindex") == "0"
    assert phone.console_errors == []


def test_the_widest_agency_pages_fit_a_phone(phone, case, reference, users):
    remittance = built_remittance(structure=reference.csr, actor=users.agent)
    invoice = written_invoice(structure=reference.csr, cases=[case])
    _login(phone, users.supervisor.email)
    for path in (
        reverse("remittances:list"),
        reverse("remittances:detail", args=[remittance.pk]),
        reverse("invoicing:list"),
        reverse("invoicing:detail", args=[invoice.pk]),
        reverse("banking:statements"),
        reverse("banking:reconciliation"),
        reverse("reporting:quarterly"),
        reverse("clocks:list"),
        reverse("payments:client_funds"),
    ):
        _visit(phone, path)
    assert phone.console_errors == []


def test_the_widest_creditor_pages_fit_a_phone(phone, case, reference, users):
    remittance = built_remittance(structure=reference.csr, actor=users.agent)
    invoice = written_invoice(structure=reference.csr, cases=[case])
    _login(phone, users.creditor_admin.email)
    for path in (
        reverse("portal_remittances"),
        reverse("portal_remittance", args=[remittance.pk]),
        reverse("portal_invoices"),
        reverse("portal_invoice", args=[invoice.pk]),
        reverse("portal_reports"),
        reverse("portal_clocks"),
        reverse("requests"),
        reverse("approvals"),
        reverse("notifications"),
        reverse("accounts:team"),
        reverse("intake:batches"),
    ):
        _visit(phone, path)
    assert phone.console_errors == []


def test_the_menu_is_open_and_its_button_hidden_on_a_wide_screen(page, users):
    _login(page, users.agent.email)
    nav = page.get_by_role("navigation", name="Navigation principale")
    assert nav.is_visible()
    assert not page.get_by_text("Menu", exact=True).is_visible()
