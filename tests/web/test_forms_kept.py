"""Forms that keep what was typed: a refused form of the case page (and of the requests, decisions, message
and upload pages) comes back with the values entered, each error beside its field and tied to it for screen
readers, its panel open and a short summary at the top; a service's refusal too. Read once: the next visit
shows a fresh form."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.utils import timezone
from lxml import html as lxml_html

from amiable.approvals.models import ApprovalStatus
from amiable.approvals.services import approval_request
from amiable.cases.models import Action, Comment
from amiable.cases.services import contact_point_add
from amiable.contact.models import CallRecord, PromiseToPay
from amiable.core.dates import add_months, format_date
from amiable.core.money import format_money
from amiable.creditor_requests.models import CreditorRequest
from amiable.creditor_requests.services import request_create
from amiable.creditors.models import ContractTerms
from tests.factories import make_case
from tests.work_fixtures import first_letter_sent

PARIS = ZoneInfo("Europe/Paris")
HOLIDAY_11 = datetime(2026, 7, 14, 11, 0, tzinfo=PARIS)
PHONE = "+33612345678"


@pytest.fixture
def case(reference, users):
    """A case of the agent: 300,00 € due, a known phone, the first letter sent."""
    case = make_case(structure=reference.cdop, reference="FRM-0001", assigned_agent=users.agent, principal="300.00")
    contact_point_add(debtor=case.debtor, kind="phone", value=PHONE, quality="valid", source="Créancier", actor=None)
    first_letter_sent(case)
    case.refresh_from_db()
    return case


def page(client, url: str):
    response = client.get(url)
    assert response.status_code == 200
    return lxml_html.fromstring(response.content.decode())


def by_id(doc, element_id: str):
    found = doc.xpath(f'//*[@id="{element_id}"]')
    assert len(found) == 1, f"#{element_id}: {len(found)} elements"
    return found[0]


def text(element) -> str:
    """The element's text with its line breaks and indentation collapsed (no-break spaces kept)."""
    return re.sub(r"[ \t\r\n]+", " ", element.text_content()).strip()


def assert_error_beside(doc, field_id: str, message: str) -> None:
    """The error is rendered next to the field, the field says so to screen readers, and the summary lists it."""
    error = by_id(doc, f"{field_id}_error")
    assert message in text(error)
    field = by_id(doc, field_id)
    assert field.get("aria-invalid") == "true"
    assert f"{field_id}_error" in field.get("aria-describedby", "").split()
    assert error.getparent() is field.getparent()  # in the same field block as the widget
    summaries = [text(s) for s in doc.xpath('//div[contains(@class, "form-errors")]')]
    assert any(message in s for s in summaries)


def assert_describedby_ids_exist(doc) -> None:
    """Every id named by an aria-describedby is on the page, once."""
    ids = [e.get("id") for e in doc.xpath("//*[@id]")]
    assert len(ids) == len(set(ids)), f"duplicated ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    for element in doc.xpath("//*[@aria-describedby]"):
        for ref in element.get("aria-describedby").split():
            assert ref in ids, f"aria-describedby={ref!r} of <{element.tag} id={element.get('id')}> is not on the page"


def panel_of(element):
    details = element.xpath("ancestor::details")
    return details[-1] if details else None


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- the call form and its promise --------------------------------------------------------------------

CALL = {
    "appel-number_choice": "",
    "appel-number_other": "06 11 22 33 44",
    "appel-direction": "in",
    "appel-outcome": "promise",
    "appel-notes": "Le débiteur propose de payer à la fin du mois",
}


def test_a_refused_call_comes_back_with_what_was_typed_beside_the_error_in_an_open_panel(client, case, users):
    client.force_login(users.agent)
    due = timezone.localdate() + timedelta(days=10)
    data = {**CALL, "appel-promise_amount": "999,50", "appel-promise_due_on": due.isoformat()}

    response = client.post(f"/travail/dossiers/{case.pk}/appel/", data)

    assert response.status_code == 302 and response["Location"] == f"/dossiers/{case.pk}/#actions"
    assert flash(response) == [] and not CallRecord.objects.exists() and not PromiseToPay.objects.exists()
    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(
        doc,
        "id_appel-promise_amount",
        f"Le montant promis ({format_money('999.50')}) dépasse le reste dû ({format_money('300.00')}).",
    )
    assert by_id(doc, "id_appel-promise_amount").get("value") == "999,50"
    assert by_id(doc, "id_appel-number_other").get("value") == "06 11 22 33 44"
    assert by_id(doc, "id_appel-promise_due_on").get("value") == due.isoformat()
    assert text(by_id(doc, "id_appel-notes")) == CALL["appel-notes"]
    assert by_id(doc, "id_appel-direction").xpath("option[@selected]/@value") == ["in"]
    assert by_id(doc, "id_appel-outcome").xpath("option[@selected]/@value") == ["promise"]
    assert panel_of(by_id(doc, "id_appel-promise_amount")).get("open") is not None
    assert panel_of(by_id(doc, "id_evenement-kind")).get("open") is None  # only the refused form's panel
    assert_describedby_ids_exist(doc)

    # Read once: the next visit, and the card loaded by htmx, show a fresh form.
    doc = page(client, f"/dossiers/{case.pk}/")
    assert not doc.xpath('//*[@id="id_appel-promise_amount"]')  # the card is loaded by htmx again
    card = lxml_html.fromstring(
        client.get(f"/travail/dossiers/{case.pk}/actions/", headers={"HX-Request": "true"}).content.decode()
    )
    assert by_id(card, "id_appel-promise_amount").get("value") is None
    assert panel_of(by_id(card, "id_appel-promise_amount")).get("open") is None


def test_the_card_loaded_by_htmx_shows_the_refused_call_form(client, case, users):
    client.force_login(users.agent)
    client.post(
        f"/travail/dossiers/{case.pk}/appel/", {**CALL, "appel-outcome": "reached", "appel-promise_amount": "5"}
    )
    card = lxml_html.fromstring(
        client.get(f"/travail/dossiers/{case.pk}/actions/", headers={"HX-Request": "true"}).content.decode()
    )
    assert_error_beside(
        card, "id_appel-outcome", "Une promesse de paiement s'enregistre avec le résultat « Promesse de paiement »."
    )
    assert by_id(card, "id_appel-promise_amount").get("value") == "5"


def test_the_direction_of_a_call_has_no_default_and_is_required(client, case, users):
    client.force_login(users.agent)
    card = page(client, f"/travail/dossiers/{case.pk}/actions/")
    direction = by_id(card, "id_appel-direction")
    assert [(o.get("value"), o.text) for o in direction.xpath("option")][0] == ("", "— choisir —")
    assert direction.xpath("option[@selected]/@value") in ([], [""])

    client.post(f"/travail/dossiers/{case.pk}/appel/", {**CALL, "appel-direction": "", "appel-outcome": "no_answer"})

    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(doc, "id_appel-direction", "Choisissez le sens de l'appel.")
    assert not Action.objects.filter(channel="call").exists()


def test_a_promise_date_beyond_the_contract_plan_limit_is_refused_beside_the_date(client, case, users):
    ContractTerms.objects.filter(creditor=case.creditor).update(max_plan_months=3)
    today = timezone.localdate()
    limit = add_months(today, 3)
    client.force_login(users.agent)
    card = page(client, f"/travail/dossiers/{case.pk}/actions/")
    date_input = by_id(card, "id_appel-promise_due_on")
    assert (date_input.get("min"), date_input.get("max")) == (today.isoformat(), limit.isoformat())
    assert f"Au plus tard le {format_date(limit)} (3 mois" in text(by_id(card, "id_appel-promise_due_on_helptext"))

    data = {**CALL, "appel-promise_amount": "50", "appel-promise_due_on": (limit + timedelta(days=1)).isoformat()}
    client.post(f"/travail/dossiers/{case.pk}/appel/", data)

    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(
        doc,
        "id_appel-promise_due_on",
        f"La date promise dépasse la durée maximale d'un plan prévue au contrat (3 mois) : "
        f"au plus tard le {format_date(limit)}.",
    )
    assert not PromiseToPay.objects.exists()

    response = client.post(f"/travail/dossiers/{case.pk}/appel/", {**data, "appel-promise_due_on": limit.isoformat()})
    assert flash(response) == ["Appel et promesse de paiement enregistrés."]
    assert PromiseToPay.objects.get().due_on == limit


def test_a_promise_in_the_past_or_without_amount_is_refused_beside_its_field(client, case, users):
    client.force_login(users.agent)
    yesterday = timezone.localdate() - timedelta(days=1)
    client.post(f"/travail/dossiers/{case.pk}/appel/", {**CALL, "appel-promise_due_on": yesterday.isoformat()})
    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(doc, "id_appel-promise_amount", "Indiquez le montant promis.")
    assert_error_beside(doc, "id_appel-promise_due_on", "La date promise est déjà passée.")


def test_amounts_in_the_call_form_errors_are_french(client, case, users):
    client.force_login(users.agent)
    client.post(f"/travail/dossiers/{case.pk}/appel/", {**CALL, "appel-promise_amount": "0,001"})
    doc = page(client, f"/dossiers/{case.pk}/")
    assert "0.01" not in text(by_id(doc, "id_appel-promise_amount_error"))
    client.post(f"/travail/dossiers/{case.pk}/appel/", {**CALL, "appel-promise_amount": "0"})
    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(doc, "id_appel-promise_amount", f"Le montant doit être d'au moins {format_money('0.01')}.")
    assert "0,01\xa0€" in format_money("0.01")


@time_machine.travel(HOLIDAY_11, tick=False)
def test_a_service_refusal_comes_back_above_the_form_with_the_values(client, case, users):
    client.force_login(users.agent)
    data = {**CALL, "appel-number_choice": PHONE, "appel-number_other": "", "appel-direction": "out"}
    data["appel-outcome"] = "no_answer"

    response = client.post(f"/travail/dossiers/{case.pk}/appel/", data)

    assert flash(response) == [] and not CallRecord.objects.exists()
    doc = page(client, f"/dossiers/{case.pk}/")
    summary = text(doc.xpath('//div[contains(@class, "form-errors")]')[0])
    assert "Appel refusé par la politique de contact : jour férié" in summary
    assert text(by_id(doc, "id_appel-notes")) == CALL["appel-notes"]
    assert by_id(doc, "id_appel-direction").xpath("option[@selected]/@value") == ["out"]
    assert panel_of(by_id(doc, "id_appel-notes")).get("open") is not None


def test_a_refused_form_is_kept_for_its_case_only(client, case, users, reference):
    other = make_case(structure=reference.cdop, assigned_agent=users.agent)
    client.force_login(users.agent)
    client.post(f"/travail/dossiers/{case.pk}/appel/", {**CALL, "appel-promise_amount": "999"})
    card = page(client, f"/travail/dossiers/{other.pk}/actions/")
    assert by_id(card, "id_appel-promise_amount").get("value") is None
    assert not card.xpath('//div[contains(@class, "form-errors")]')
    assert by_id(page(client, f"/dossiers/{case.pk}/"), "id_appel-promise_amount").get("value") == "999"


def test_the_case_page_with_kept_forms_stays_within_its_queries(client, case, users, django_assert_max_num_queries):
    client.force_login(users.agent)
    client.post(f"/travail/dossiers/{case.pk}/appel/", {**CALL, "appel-promise_amount": "999"})
    client.post(f"/dossiers/{case.pk}/commentaires/", {"body": ""})
    with django_assert_max_num_queries(90):
        doc = page(client, f"/dossiers/{case.pk}/")
    assert_describedby_ids_exist(doc)


# --- the other forms of the « Actions » card ------------------------------------------------------------


def test_a_refused_event_comes_back_open_with_its_values(client, case, users):
    client.force_login(users.agent)
    client.post(
        f"/travail/dossiers/{case.pk}/evenement/",
        {"evenement-kind": "dispute", "evenement-occurred_on": "pas une date", "evenement-details": "Conteste tout"},
    )
    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(doc, "id_evenement-occurred_on", "Saisissez une date valide.")
    assert by_id(doc, "id_evenement-kind").xpath("option[@selected]/@value") == ["dispute"]
    assert text(by_id(doc, "id_evenement-details")) == "Conteste tout"
    assert panel_of(by_id(doc, "id_evenement-kind")).get("open") is not None
    assert_describedby_ids_exist(doc)


def test_a_refused_returned_mail_comes_back_open(client, case, users):
    client.force_login(users.agent)
    client.post(f"/travail/dossiers/{case.pk}/courrier-revenu/", {"npai-point": "999999"})
    doc = page(client, f"/dossiers/{case.pk}/")
    error = text(by_id(doc, "id_npai-point_error"))
    assert "Sélectionnez un choix valide" in error
    assert panel_of(by_id(doc, "id_npai-point")).get("open") is not None


# --- the forms of the case page (comments, requests, decisions, recall) -------------------------------


def test_a_refused_comment_comes_back_beside_its_field(client, case, users):
    client.force_login(users.collaborator)
    long = "x" * 5001
    response = client.post(f"/dossiers/{case.pk}/commentaires/", {"body": long})
    assert response["Location"] == f"/dossiers/{case.pk}/#commentaires"
    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(doc, "commentaire-body", "Assurez-vous que cette valeur comporte au plus 5000 caractères")
    assert text(by_id(doc, "commentaire-body")) == long
    assert not Comment.objects.exists()
    assert_describedby_ids_exist(doc)


def test_a_refused_case_request_keeps_the_text(client, case, users):
    client.force_login(users.collaborator)
    client.post(f"/dossiers/{case.pk}/demandes/", {"kind": "meeting", "body": "Où en est ce dossier ?"})
    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(doc, "demande-kind", "Sélectionnez un choix valide")
    assert text(by_id(doc, "demande-body")) == "Où en est ce dossier ?"
    assert not CreditorRequest.objects.exists()


def test_a_refused_approval_request_comes_back_open(client, case, users):
    client.force_login(users.agent)
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    client.post(f"/dossiers/{case.pk}/decisions/", {"kind": "court_action", "proposal": "", "due_on": due})
    doc = page(client, f"/dossiers/{case.pk}/")
    assert_error_beside(doc, "demande-decision-proposal", "Ce champ est obligatoire.")
    assert by_id(doc, "demande-decision-due_on").get("value") == due
    assert panel_of(by_id(doc, "demande-decision-proposal")).get("open") is not None
    assert_describedby_ids_exist(doc)


def test_a_refused_recall_keeps_the_reason(client, case, users):
    client.force_login(users.approver)
    response = client.post(f"/dossiers/{case.pk}/retrait/", {"reason": "Dette annulée"})
    assert response["Location"] == f"/dossiers/{case.pk}/#retrait"
    doc = page(client, f"/dossiers/{case.pk}/")
    assert text(by_id(doc, "retrait-reason")) == "Dette annulée"
    assert "Ce champ est obligatoire." in text(by_id(doc, "retrait-confirm_error"))
    assert by_id(doc, "retrait-confirm").get("aria-describedby") == "retrait-confirm_error"
    case.refresh_from_db()
    assert case.is_open


# --- decisions and requests pages ---------------------------------------------------------------------


def test_a_refused_decision_keeps_the_choice_and_shows_the_service_refusal_beside_the_comment(client, case, users):
    approval = approval_request(case=case, kind="court_action", proposal="Assigner", actor=users.agent)
    client.force_login(users.approver)
    response = client.post(f"/validations/{approval.pk}/decision/", {"decision": "refuse", "comment": ""})
    assert response["Location"] == f"/validations/#decision-{approval.pk}"
    doc = page(client, "/validations/")
    assert_error_beside(doc, f"decision-{approval.pk}-comment", "Indiquez le motif du refus.")
    assert by_id(doc, f"decision-{approval.pk}-decision_1").get("checked") is not None
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert_describedby_ids_exist(doc)


def test_a_refused_answer_comes_back_on_the_requests_page(client, case, users):
    asked = request_create(kind="question", body="Le débiteur a-t-il appelé ?", actor=users.collaborator, case=case)
    client.force_login(users.agent)
    response = client.post(f"/demandes/{asked.pk}/reponse/", {"answer": "  "})
    assert response["Location"] == f"/demandes/#demande-{asked.pk}"
    doc = page(client, "/demandes/")
    assert_error_beside(doc, f"reponse-{asked.pk}-answer", "Ce champ est obligatoire.")
    assert_describedby_ids_exist(doc)


# --- the message and the batch pages ------------------------------------------------------------------


def test_a_refused_batch_upload_keeps_the_choices_and_says_what_to_fix(client, reference, users):
    client.force_login(users.agent)
    response = client.post(
        "/lots/transmettre/", {"creditor": reference.cpam.pk, "structure": reference.cdop.pk}, follow=True
    )
    doc = lxml_html.fromstring(response.content.decode())
    assert_error_beside(doc, "id_file", "Ce champ est obligatoire.")
    assert by_id(doc, "id_structure").xpath("option[@selected]/@value") == [str(reference.cdop.pk)]
    assert_describedby_ids_exist(doc)


@pytest.mark.parametrize("who", ["agent", "collaborator"])
def test_every_describedby_id_exists_on_a_fresh_case_page(client, case, users, who):
    client.force_login(getattr(users, who))
    assert_describedby_ids_exist(page(client, f"/dossiers/{case.pk}/"))
    if who == "agent":
        assert_describedby_ids_exist(page(client, f"/travail/dossiers/{case.pk}/actions/"))
