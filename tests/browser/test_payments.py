"""Recording a cash payment in a real browser: the reason for cash beyond the ceiling (L4) appears when
« Espèces » is chosen, a refusal comes back with what was typed and the error beside the reason, and the
payment recorded shows on the case page. No serious or critical accessibility violation."""

from decimal import Decimal
from urllib.parse import urlparse

import pytest

from amiable.payments.models import Payment
from tests.browser.test_shell import _axe_serious, _login
from tests.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True)


def test_agent_records_a_cash_payment_beyond_the_ceiling_with_its_reason(page, reference, users):
    case = make_case(structure=reference.csr, reference="ESPECES-0001", principal="1500.00", assigned_agent=users.agent)
    _login(page, users.agent.email)
    page.goto(f"/dossiers/{case.pk}/")
    card = page.locator("#paiements")  # the « Actions » card, loaded by htmx, has amounts too
    card.get_by_text("Enregistrer un paiement", exact=True).click()
    reason = card.get_by_label("Motif du paiement en espèces au-delà du plafond")
    assert not reason.is_visible()  # only for cash
    card.get_by_label("Montant (€)").fill("1 200,00")
    card.get_by_label("Moyen de paiement").select_option(label="Espèces")
    assert reason.is_visible()
    card.get_by_label("Référence").first.fill("Guichet agence")
    card.get_by_role("button", name="Enregistrer le paiement").click()

    # Refused: the same values, the error beside the reason, nothing recorded.
    page.wait_for_url(lambda url: urlparse(url).path == f"/paiements/dossiers/{case.pk}/paiement/")
    assert "Rien n'a été enregistré" in page.get_by_role("alert").first.inner_text()
    assert "au-delà du plafond de 1\u202f000,00\xa0€" in page.locator("#id_paiement-cash_reason_error").inner_text()
    assert card.get_by_label("Montant (€)").input_value() == "1 200,00"
    assert card.get_by_label("Moyen de paiement").input_value() == "cash"
    assert reason.is_visible()
    assert not Payment.objects.exists()
    assert _axe_serious(page) == []

    reason.fill("Débiteur sans domicile fiscal en France")
    card.get_by_role("button", name="Enregistrer le paiement").click()
    page.wait_for_url(lambda url: urlparse(url).path == f"/dossiers/{case.pk}/")
    assert "Paiement de 1\u202f200,00\xa0€ enregistré (espèces)." in page.get_by_role("status").first.inner_text()
    assert "Espèces au-delà du plafond : Débiteur sans domicile fiscal en France" in card.inner_text()
    payment = Payment.objects.get()
    assert (payment.amount, payment.method, payment.recorded_by) == (Decimal("1200.00"), "cash", users.agent)
    assert _axe_serious(page) == []
    assert page.console_errors == []
