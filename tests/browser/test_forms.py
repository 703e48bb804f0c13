"""A call form with an error keeps what was typed, in a real browser: an agent records a promise above the
balance; the case page comes back with the number, the notes and the amount as typed, the error beside the
amount field (tied to it for screen readers) and the panel open. No serious or critical accessibility
violation."""

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from amiable.contact.models import CallRecord, PromiseToPay
from tests.browser.test_shell import _axe_serious, _login
from tests.factories import make_case
from tests.work_fixtures import first_letter_sent

pytestmark = pytest.mark.django_db(transaction=True)

NOTES = "Rappelle après sa paie, propose de tout régler"


def test_a_call_form_with_an_error_keeps_its_values(page, reference, users):
    case = make_case(structure=reference.cdop, reference="FORM-0001", principal="300.00", assigned_agent=users.agent)
    first_letter_sent(case)
    due = (timezone.localdate() + timedelta(days=12)).isoformat()
    _login(page, users.agent.email)
    page.goto(f"/dossiers/{case.pk}/")
    card = page.locator("#actions")
    card.get_by_text("Enregistrer un appel", exact=True).click()  # the card is loaded by htmx
    card.locator("#id_appel-number_other").fill("06 11 22 33 44")
    assert card.locator("#id_appel-direction").input_value() == ""  # no default direction
    card.locator("#id_appel-direction").select_option(label="Entrant")
    card.locator("#id_appel-outcome").select_option(label="Promesse de paiement")
    card.locator("#id_appel-promise_amount").fill("450,00")
    card.locator("#id_appel-promise_due_on").fill(due)
    card.locator("#id_appel-notes").fill(NOTES)
    card.get_by_role("button", name="Enregistrer l'appel").click()

    page.wait_for_url(lambda url: urlparse(url).path == f"/dossiers/{case.pk}/")
    amount = card.locator("#id_appel-promise_amount")
    amount.wait_for()
    assert amount.is_visible()  # the panel is open
    assert amount.input_value() == "450,00"
    assert card.locator("#id_appel-number_other").input_value() == "06 11 22 33 44"
    assert card.locator("#id_appel-notes").input_value() == NOTES
    assert card.locator("#id_appel-direction").input_value() == "in"
    assert card.locator("#id_appel-promise_due_on").input_value() == due
    error = card.locator("#id_appel-promise_amount_error")
    assert "Le montant promis (450,00\xa0€) dépasse le reste dû (300,00\xa0€)." in error.inner_text()
    assert "id_appel-promise_amount_error" in amount.get_attribute("aria-describedby").split()
    assert amount.get_attribute("aria-invalid") == "true"
    assert "Rien n'a été enregistré" in card.locator(".form-errors").inner_text()
    assert not CallRecord.objects.exists() and not PromiseToPay.objects.exists()
    assert _axe_serious(page) == []

    amount.fill("250,00")
    card.get_by_role("button", name="Enregistrer l'appel").click()
    page.wait_for_url(lambda url: urlparse(url).path == f"/dossiers/{case.pk}/")
    assert "Appel et promesse de paiement enregistrés." in page.get_by_role("status").first.inner_text()
    assert str(PromiseToPay.objects.get().amount) == "250.00"
    assert CallRecord.objects.get().notes == NOTES
    assert page.console_errors == []
