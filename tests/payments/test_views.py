"""The money pages: the forms of the « Paiements » card (payment, reversal, refund, the creditor's declaration
of a direct payment), refusals shown beside their field with what was typed, the one-time token, tenant
isolation, constant query counts, and the « Fonds de tiers » page."""

import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.core.money import NARROW_NBSP, NBSP
from amiable.creditors.models import Creditor
from amiable.ledger.models import LedgerEntry
from amiable.notifications.models import Notification
from amiable.payments import views as payment_views
from amiable.payments.models import Payment, PaymentMethod, PaymentReversal, PaymentSource, Refund
from amiable.payments.services import payment_record, payment_reverse, refund_record
from tests.factories import make_case
from tests.web.test_views import assert_no_inline_code, parse

pytestmark = pytest.mark.django_db

KEY = re.compile(r'name="(?P<prefix>[\w-]+)-key" value="(?P<key>\w+)"')


def euros(text: str) -> str:
    """An amount as the pages show it: « 1 234,56 € » with its no-break spaces."""
    return text.replace(" ", NARROW_NBSP) + NBSP + "€"


def today() -> date:
    return timezone.localdate()


@pytest.fixture
def case(reference, users):
    return make_case(
        structure=reference.csr,
        reference="PAY-0001",
        principal="100.00",
        interest_amount=Decimal("10.00"),
        other_amount=Decimal("5.00"),
        assigned_agent=users.agent,
    )


def page_of(client, case) -> str:
    response = client.get(f"/dossiers/{case.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def key_in(html: str, prefix: str) -> str:
    keys = {m["prefix"]: m["key"] for m in KEY.finditer(html)}
    return keys[prefix]


def post_payment(client, case, *, key="", **fields):
    data = {"amount": "60,00", "method": PaymentMethod.TRANSFER, "collected_on": today().isoformat(), "key": key}
    data.update(fields)
    return client.post(f"/paiements/dossiers/{case.pk}/paiement/", {f"paiement-{k}": v for k, v in data.items()})


def error_of(html: str, field_id: str) -> str:
    """The text of the error shown beside a field, checked to be tied to its input by aria-describedby."""
    match = re.search(rf'<div class="errors" id="{field_id}_error">(.*?)</div>', html, re.DOTALL)
    assert match, f"no error beside {field_id}"
    control = next(attrs for tag, attrs in parse(html).controls if attrs.get("id") == field_id)
    assert f"{field_id}_error" in control["aria-describedby"].split()
    assert control.get("aria-invalid") == "true"
    return unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def followed_message(client, response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    return unescape(client.get(response.url).content.decode())


# --- « Enregistrer un paiement » ---------------------------------------------------------------------


def test_agent_records_a_payment_with_the_token_of_the_page(client, case, users):
    client.force_login(users.agent)
    html = page_of(client, case)
    assert "Enregistrer un paiement" in html
    assert "Déclarer un paiement reçu directement" not in html
    key = key_in(html, "paiement")
    response = post_payment(client, case, key=key, amount="60,00", reference="VIR 2026-11 DUPONT")
    assert response.url == f"/dossiers/{case.pk}/#paiements"
    html = followed_message(client, response)
    assert f"Paiement de {euros('60,00')} enregistré (virement). Reste dû : {euros('55,00')}." in html
    payment = Payment.objects.get()
    assert (payment.amount, payment.key, payment.recorded_by) == (Decimal("60.00"), key, users.agent)
    assert payment.source == PaymentSource.AGENT
    # The card lists it with its state and who recorded it; a new token is in the new form.
    assert "VIR 2026-11 DUPONT" in html and "Encaissé" in html
    assert users.agent.get_full_name() in html
    assert key_in(html, "paiement") != key


def test_amount_in_french_format_with_thousands(client, reference, users):
    case = make_case(structure=reference.csr, principal="5000.00")
    client.force_login(users.agent)
    post_payment(client, case, amount="1 234,56")
    post_payment(client, case, amount=f"1{NARROW_NBSP}000,5")
    assert sorted(Payment.objects.values_list("amount", flat=True)) == [Decimal("1000.50"), Decimal("1234.56")]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", f"Le montant doit être d'au moins {euros('0,01')}."),
        ("0,001", "Deux décimales au plus"),
        ("-5", f"Le montant doit être d'au moins {euros('0,01')}."),
        ("douze", "Montant illisible"),
        ("", "Ce champ est obligatoire."),
    ],
)
def test_a_refused_amount_comes_back_typed_with_the_error_beside_it(client, case, users, amount, message):
    client.force_login(users.agent)
    response = post_payment(client, case, key="cle-1", amount=amount, reference="CHQ 42", method="cheque")
    assert response.status_code == 200
    html = response.content.decode()
    assert message in error_of(html, "id_paiement-amount")
    assert "Rien n'a été enregistré" in html
    assert 'value="CHQ 42"' in html  # what was typed stays
    assert '<option value="cheque" selected>' in html
    assert f'value="{amount}"' in html or amount == ""
    assert 'value="cle-1"' in html  # the same token: nothing was recorded with it
    assert not Payment.objects.exists()
    assert_no_inline_code(html)


def test_a_future_date_is_refused_beside_the_date(client, case, users):
    client.force_login(users.agent)
    tomorrow = today() + timedelta(days=1)
    response = post_payment(client, case, collected_on=tomorrow.isoformat())
    assert response.status_code == 200
    assert f"({tomorrow:%d/%m/%Y}) est dans le futur" in error_of(response.content.decode(), "id_paiement-collected_on")
    assert not Payment.objects.exists()


def test_cash_beyond_1000_euros_for_one_debt_needs_a_reason(client, reference, users):
    case = make_case(structure=reference.csr, principal="1500.00")
    client.force_login(users.agent)
    post_payment(client, case, amount="800,00", method="cash")
    html = page_of(client, case)
    assert f"Espèces déjà reçues pour cette dette : {euros('800,00')}" in html
    assert 'class="cash-only"' in html

    response = post_payment(client, case, key="cle-especes", amount="300,00", method="cash", reference="Guichet")
    assert response.status_code == 200
    html = response.content.decode()
    error = error_of(html, "id_paiement-cash_reason")
    assert f"{euros('1 100,00')} au total pour cette dette, au-delà du plafond de {euros('1 000,00')}" in error
    assert '<option value="cash" selected>' in html and 'value="300,00"' in html and 'value="Guichet"' in html
    assert '<textarea name="paiement-cash_reason"' in html  # the reason field is there, and open
    assert Payment.objects.count() == 1

    response = post_payment(
        client, case, key="cle-especes", amount="300,00", method="cash", cash_reason="Débiteur résidant au Maroc"
    )
    assert response.status_code == 302
    assert Payment.objects.get(key="cle-especes").cash_reason == "Débiteur résidant au Maroc"
    assert "Espèces au-delà du plafond : Débiteur résidant au Maroc" in page_of(client, case)


def test_a_double_submission_records_one_payment(client, case, users):
    client.force_login(users.agent)
    key = key_in(page_of(client, case), "paiement")
    first = post_payment(client, case, key=key, amount="40,00")
    second = post_payment(client, case, key=key, amount="40,00")
    assert first.status_code == second.status_code == 302
    assert Payment.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    case.refresh_from_db()
    assert case.paid_amount == Decimal("40.00")


def test_a_closed_case_offers_no_payment_form(client, case, users):
    from amiable.cases.services import case_transition

    case_transition(case=case, to="recalled", actor=users.agent)
    case_transition(case=case, to="closed", actor=users.agent)
    client.force_login(users.agent)
    assert "Enregistrer un paiement" not in page_of(client, case)
    response = post_payment(client, case)
    assert response.status_code == 200
    assert "est clos : paiement refusé" in response.content.decode()


# --- « Rejeter » ---------------------------------------------------------------------------------------


def _reverse(client, payment, **fields):
    data = {"reversed_on": today().isoformat(), "reason": "Chèque impayé"} | fields
    prefix = f"rejet-{payment.pk}"
    url = f"/paiements/dossiers/{payment.case_id}/paiements/{payment.pk}/rejet/"
    return client.post(url, {f"{prefix}-{k}": v for k, v in data.items()})


def test_agent_reverses_a_bounced_cheque(client, case, users):
    payment = payment_record(
        case=case, amount="115.00", collected_on=today(), method="cheque", actor=users.agent, reference="CHQ 1234567"
    )
    client.force_login(users.agent)
    assert "Rejeter" in page_of(client, case)
    html = followed_message(client, _reverse(client, payment, reason="Chèque impayé (provision insuffisante)"))
    assert f"Paiement de {euros('115,00')} rejeté. Reste dû : {euros('115,00')}." in html
    assert f"Rejeté le {today():%d/%m/%Y}" in html
    assert "Motif : Chèque impayé (provision insuffisante)" in html
    assert PaymentReversal.objects.get().recorded_by == users.agent
    # A reversed payment offers no second « Rejeter ».
    assert f"/paiements/{payment.pk}/rejet/" not in html


def test_a_reversal_without_reason_or_before_the_payment_is_refused_beside_its_field(client, case, users):
    payment = payment_record(case=case, amount="50.00", collected_on=today(), method="cheque", actor=users.agent)
    client.force_login(users.agent)
    response = _reverse(client, payment, reason="")
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in error_of(response.content.decode(), f"id_rejet-{payment.pk}-reason")
    response = _reverse(client, payment, reversed_on=(today() - timedelta(days=1)).isoformat(), reason="Erreur")
    html = response.content.decode()
    assert "ne peut pas précéder l'encaissement" in error_of(html, f"id_rejet-{payment.pk}-reversed_on")
    assert 'value="Erreur"' in html
    assert not PaymentReversal.objects.exists()


def test_a_payment_of_another_case_cannot_be_reversed_through_this_case(client, case, reference, users):
    other = make_case(structure=reference.csr)
    payment = payment_record(case=other, amount="10.00", collected_on=today(), method="cheque", actor=users.agent)
    client.force_login(users.agent)
    url = f"/paiements/dossiers/{case.pk}/paiements/{payment.pk}/rejet/"
    response = client.post(
        url, {f"rejet-{payment.pk}-reversed_on": today().isoformat(), f"rejet-{payment.pk}-reason": "x"}
    )
    assert response.status_code == 404
    assert not PaymentReversal.objects.exists()


# --- « Trop-perçu à rembourser » ---------------------------------------------------------------------


def _refund(client, case, **fields):
    data = {"amount": "5,00", "method": "transfer", "refunded_on": today().isoformat(), "key": ""} | fields
    return client.post(
        f"/paiements/dossiers/{case.pk}/remboursement/", {f"remboursement-{k}": v for k, v in data.items()}
    )


def test_the_overpayment_is_refunded_from_the_card(client, case, users):
    client.force_login(users.agent)
    assert "Rembourser" not in page_of(client, case)
    payment_record(case=case, amount="120.00", collected_on=today(), method="transfer", actor=users.agent)
    html = page_of(client, case)
    assert f"Trop-perçu à rembourser : {euros('5,00')}" in html
    assert f"Au plus le trop-perçu : {euros('5,00')}." in html

    response = _refund(client, case, amount="6,00", reference="VIR REMB")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"dépasse le trop-perçu du dossier ({euros('5,00')})" in error_of(html, "id_remboursement-amount")
    assert 'value="VIR REMB"' in html
    assert not Refund.objects.exists()

    html = followed_message(client, _refund(client, case, amount="5,00", key="cle-remb"))
    assert f"Remboursement de {euros('5,00')} enregistré. Trop-perçu restant à rembourser : {euros('0,00')}." in html
    _refund(client, case, amount="5,00", key="cle-remb")  # the same form again: one refund
    assert Refund.objects.count() == 1
    assert "Trop-perçu à rembourser" not in html
    assert "Trop-perçus remboursés au débiteur" in html


def test_creditor_staff_see_the_overpayment_but_no_agency_form(client, case, users):
    payment = payment_record(case=case, amount="120.00", collected_on=today(), method="transfer", actor=users.agent)
    client.force_login(users.collaborator)
    html = page_of(client, case)
    assert f"Trop-perçu à rembourser : {euros('5,00')}" in html
    for agency_only in ("Enregistrer un paiement", "Rembourser", f"/paiements/{payment.pk}/rejet/"):
        assert agency_only not in html
    # The card's agency forms are refused to them, even posted by hand.
    assert post_payment(client, case).status_code == 403
    assert _refund(client, case).status_code == 403
    assert _reverse(client, payment).status_code == 403
    assert not PaymentReversal.objects.exists() and not Refund.objects.exists()


# --- C22: the creditor declares a payment received directly ----------------------------------------


def _declare(client, case, **fields):
    data = {"amount": "40,00", "collected_on": today().isoformat(), "key": ""} | fields
    return client.post(f"/paiements/dossiers/{case.pk}/paiement-direct/", {f"direct-{k}": v for k, v in data.items()})


@pytest.mark.parametrize("role", ["collaborator", "approver", "creditor_admin", "csr_only"])
def test_creditor_staff_declare_a_direct_payment_and_the_agency_is_told(client, case, users, reference, role):
    Creditor.objects.filter(pk=reference.cpam.pk).update(referent=users.supervisor)
    user = getattr(users, role)
    client.force_login(user)
    html = page_of(client, case)
    assert "Déclarer un paiement reçu directement" in html
    assert "Enregistrer un paiement" not in html
    key = key_in(html, "direct")
    html = followed_message(client, _declare(client, case, key=key, amount="40,00", reference="Quittance 77"))
    assert (
        f"Paiement direct de {euros('40,00')} déclaré : l'agence en est informée. Reste dû : {euros('75,00')}." in html
    )
    _declare(client, case, key=key, amount="40,00")  # a second click: one payment
    payment = Payment.objects.get()
    assert (payment.method, payment.source, payment.recorded_by) == ("direct", "creditor", user)
    assert f"{user.get_full_name()} (créancier)" in html and "Encaissé par le créancier" in html
    assert not LedgerEntry.objects.exists()  # never through the client-funds account
    told = Notification.objects.filter(kind="payment_declared")
    assert set(told.values_list("recipient", flat=True)) == {users.agent.pk, users.supervisor.pk}
    note = told.get(recipient=users.agent)
    assert note.title == f"Paiement direct de {euros('40,00')} déclaré sur le dossier PAY-0001"
    assert "Quittance 77" in note.body and note.case_pk == case.pk


def test_a_declaration_above_the_balance_comes_back_with_its_error(client, case, users):
    client.force_login(users.collaborator)
    response = _declare(client, case, amount="200,00", reference="Guichet")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"dépasse le reste dû ({euros('115,00')})" in error_of(html, "id_direct-amount")
    assert 'value="200,00"' in html and 'value="Guichet"' in html
    assert not Payment.objects.exists()
    assert not Notification.objects.filter(kind="payment_declared").exists()


def test_agency_staff_record_direct_payments_with_their_own_form(client, case, users):
    client.force_login(users.agent)
    assert _declare(client, case).status_code == 403
    assert not Payment.objects.exists()


# --- tenant isolation ----------------------------------------------------------------------------------


def _all_posts(client, case, payment):
    return {
        "record": post_payment(client, case),
        "declare": _declare(client, case),
        "reverse": _reverse(client, payment),
        "refund": _refund(client, case),
    }


def test_every_money_url_is_404_for_another_creditor(client, case, users):
    payment = payment_record(case=case, amount="120.00", collected_on=today(), method="transfer", actor=users.agent)
    client.force_login(users.other_admin)
    for name, response in _all_posts(client, case, payment).items():
        assert response.status_code == 404, name
        assert "PAY-0001" not in response.content.decode(), name
    assert Payment.objects.count() == 1
    assert not PaymentReversal.objects.exists() and not Refund.objects.exists()


def test_a_user_limited_to_csr_gets_404_on_a_cdop_case(client, reference, users):
    cdop = make_case(structure=reference.cdop, reference="CDOP-0001", principal="100.00")
    payment = payment_record(case=cdop, amount="120.00", collected_on=today(), method="transfer", actor=users.agent)
    client.force_login(users.csr_only)
    for name, response in _all_posts(client, cdop, payment).items():
        assert response.status_code == 404, name
    assert Payment.objects.count() == 1


def test_the_money_urls_take_only_posts(client, case, users):
    client.force_login(users.agent)
    assert client.get(f"/paiements/dossiers/{case.pk}/paiement/").status_code == 405
    assert client.get(f"/paiements/dossiers/{case.pk}/remboursement/").status_code == 405


# --- the case page's cost ---------------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("role", ["agent", "collaborator"])
def test_case_page_query_count_does_not_grow_with_payments(
    client, reference, users, role, django_assert_max_num_queries
):
    case = make_case(structure=reference.csr, principal="1000.00", assigned_agent=users.agent)
    url = f"/dossiers/{case.pk}/"
    payment_record(case=case, amount="1.00", collected_on=today(), method="cheque", actor=users.agent)
    client.force_login(getattr(users, role))
    client.get(url)
    few = _queries(client, url)
    for n in range(8):
        p = payment_record(case=case, amount="15.00", collected_on=today(), method="cash", actor=users.agent)
        if n % 3 == 0:
            payment_reverse(payment=p, reversed_on=today(), reason=f"Erreur {n}", actor=users.supervisor)
    payment_record(
        case=case, amount="5.00", collected_on=today(), method="direct", actor=users.collaborator, source="creditor"
    )
    many = _queries(client, url)
    assert few == many
    # 28 + the timeline's personal data keys, read once (audit.personal), + the case's certificates (« Fin du dossier »)
    # + the summary's next action
    with django_assert_max_num_queries(31):
        client.get(url)


# --- « Fonds de tiers » -------------------------------------------------------------------------------------


@pytest.fixture
def funds(reference, users):
    """Money held on 2 and 3 November for CSR and CDOP, an overpayment, a direct payment, a refund."""
    csr = make_case(structure=reference.csr, reference="FDT-CSR", principal="100.00")
    cdop = make_case(structure=reference.cdop, reference="FDT-CDOP", principal="100.00")
    over = make_case(structure=reference.csr, reference="FDT-TROP", principal="50.00")
    other = make_case(structure=reference.other_structure, reference="FDT-AUTRE", principal="100.00")
    payment_record(case=csr, amount="30.00", collected_on=date(2026, 11, 2), method="cheque", actor=users.agent)
    payment_record(case=cdop, amount="20.00", collected_on=date(2026, 11, 3), method="transfer", actor=users.agent)
    payment_record(case=over, amount="70.00", collected_on=date(2026, 11, 3), method="transfer", actor=users.agent)
    payment_record(case=other, amount="10.00", collected_on=date(2026, 11, 4), method="card", actor=users.agent)
    payment_record(
        case=csr,
        amount="25.00",
        collected_on=date(2026, 11, 4),
        method="direct",
        actor=users.collaborator,
        source="creditor",
    )
    refund_record(case=over, amount="5.00", refunded_on=date(2026, 11, 5), method="transfer", actor=users.agent)
    return type("Funds", (), {"csr": csr, "cdop": cdop, "over": over, "other": other})


def _text(html: str) -> str:
    """The words of a page, without its tags; the no-break spaces inside amounts are kept."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_supervisor_reads_the_client_funds_at_a_date(client, users, funds):
    client.force_login(users.supervisor)
    response = client.get("/paiements/fonds-de-tiers/?at=2026-11-05&start=2026-11-01")
    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)
    assert "Soldes au 05/11/2026" in text
    assert f"Détenu pour les créanciers {euros('110,00')}" in text  # 30 + 20 + 50 + 10; the 25 direct is not
    assert f"Trop-perçus à rembourser aux débiteurs {euros('15,00')}" in text  # 20 over, 5 refunded
    assert f"Solde du compte bancaire selon le journal {euros('125,00')}" in text
    cpam = "Caisse Primaire d'Assurance Maladie de Paris"
    assert f"{cpam} Centre de Santé Réaumur (CSR) {euros('80,00')}" in text  # 30, and 50 of the 70 paid
    assert f"{cpam} Centre Dentaire d'Orthodontie de Paris (CDOP) {euros('20,00')}" in text
    assert f"Autre créancier Centre Autre (AUT) {euros('10,00')}" in text
    assert f"Total détenu pour les créanciers {euros('110,00')}" in text
    assert f"FDT-TROP {cpam} CSR {euros('15,00')}" in text
    assert f'href="/dossiers/{funds.over.pk}/#paiements"' in html
    assert "Écart" not in text
    # The journal of the period: one entry per movement that went through the account.
    assert "Journal du 01/11/2026 au 05/11/2026" in text
    assert text.count("Encaissement") == 4 and "Remboursement d'un trop-perçu" in text
    assert_no_inline_code(html)
    page = parse(html)
    for tag, attrs in page.controls:
        if attrs.get("type") != "hidden":
            assert attrs.get("id") in page.label_for, (tag, attrs)


def test_client_funds_at_an_earlier_date(client, users, funds):
    client.force_login(users.agency_admin)
    text = _text(client.get("/paiements/fonds-de-tiers/?at=2026-11-02").content.decode())
    assert f"Détenu pour les créanciers {euros('30,00')}" in text
    assert f"Trop-perçus à rembourser aux débiteurs {euros('0,00')}" in text
    assert "Aucun trop-perçu à rembourser au 02/11/2026" in text
    assert "(CDOP)" not in text
    assert "Journal du 01/11/2026 au 02/11/2026" in text


def test_client_funds_default_to_today_and_refuse_a_period_backwards(client, users, funds):
    client.force_login(users.supervisor)
    text = _text(client.get("/paiements/fonds-de-tiers/").content.decode())
    assert f"Soldes au {today():%d/%m/%Y}" in text
    assert f"Journal du {today().replace(day=1):%d/%m/%Y}" in text
    html = client.get("/paiements/fonds-de-tiers/?at=2026-11-02&start=2026-11-20").content.decode()
    assert "Le début du journal doit précéder la date des soldes." in error_of(html, "id_start")


def test_client_funds_page_is_for_supervisors_and_agency_admins(client, users, funds):
    for user, status in (
        (users.supervisor, 200),
        (users.agency_admin, 200),
        (users.agent, 403),
        (users.creditor_admin, 404),
        (users.other_admin, 404),
    ):
        client.force_login(user)
        assert client.get("/paiements/fonds-de-tiers/").status_code == status, user.role
        home = client.get("/").content.decode()
        assert ('href="/paiements/fonds-de-tiers/"' in home) == (status == 200), user.role


def test_client_funds_page_cost_does_not_grow_with_the_journal(
    client, reference, users, funds, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(payment_views, "JOURNAL_PAGE_SIZE", 3)
    monkeypatch.setattr(payment_views, "OWED_PAGE_SIZE", 1)
    url = "/paiements/fonds-de-tiers/?at=2026-11-30&start=2026-11-01"
    client.force_login(users.supervisor)
    client.get(url)
    few = _queries(client, url)
    for n in range(6):
        extra = make_case(structure=reference.cesa, reference=f"FDT-PLUS-{n}", principal="10.00")
        payment_record(case=extra, amount="12.00", collected_on=date(2026, 11, 10), method="cheque", actor=users.agent)
    many = _queries(client, url)
    assert few == many
    with django_assert_max_num_queries(16):
        html = client.get(url).content.decode()
    # Both lists are paginated, each with its own page parameter, keeping the dates.
    assert 'href="?at=2026-11-30&amp;start=2026-11-01&amp;page=2"' in html
    assert 'href="?at=2026-11-30&amp;start=2026-11-01&amp;trop_percus=2"' in html
    second = _text(client.get(url + "&trop_percus=2&page=2").content.decode())
    assert "Page 2 sur 7" in second  # 7 overpaid cases, one per page


def test_a_refunded_overpayment_leaves_the_list_whatever_the_float_arithmetic_of_the_database(client, reference, users):
    case = make_case(structure=reference.csr, reference="FDT-CENTIMES", principal="10.00")
    for amount in ("10.10", "0.20"):  # 0,10 € then 0,20 € held for the debtor: 0.1 + 0.2 is not 0.3 in floats
        payment_record(case=case, amount=amount, collected_on=date(2026, 11, 2), method="transfer", actor=users.agent)
    refund_record(case=case, amount="0.30", refunded_on=date(2026, 11, 3), method="transfer", actor=users.agent)
    client.force_login(users.supervisor)
    text = _text(client.get("/paiements/fonds-de-tiers/?at=2026-11-03").content.decode())
    assert "FDT-CENTIMES" in text  # in the journal
    assert "Aucun trop-perçu à rembourser au 03/11/2026" in text
    assert f"Trop-perçus à rembourser aux débiteurs {euros('0,00')}" in text
