"""The financial statement of a case (C34): its figures, its page and PDF for the agency and the case's
creditor only, its constant cost, and the automatic answer to a creditor's statement request."""

import hashlib
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.cases.models import CaseStatus
from amiable.core.models import NumberSequence
from amiable.creditor_requests import hooks
from amiable.creditor_requests.models import CreditorRequest, RequestKind, RequestStatus
from amiable.creditor_requests.services import request_create
from amiable.notifications.models import Notification
from amiable.payments import services_statement
from amiable.payments import statement as statement_module
from amiable.payments.models import PaymentMethod, PaymentSource, Statement
from amiable.payments.services import payment_record, payment_reverse, refund_record
from amiable.payments.services_statement import statement_answer
from amiable.payments.statement import RemittedLine, case_statement
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)
D = Decimal


def squash(text: str) -> str:
    """Single ordinary spaces: pypdf wraps lines, amounts hold no-break spaces."""
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def pdf_text(data: bytes) -> str:
    return squash(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages))


def is_pdf_a(data: bytes) -> bool:
    metadata = PdfReader(io.BytesIO(data)).trailer["/Root"]["/Metadata"].get_object().get_data()
    return b'pdfaid:part="3"' in metadata


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def case(reference, users, now):
    """Claimed 115,00 € (100 + 10 + 5), paid by every method: a bounced cheque, an excess of 15,00 € of which
    10,00 € was refunded to the debtor."""
    case = make_case(
        structure=reference.csr,
        reference="DEC-0001",
        assigned_agent=users.agent,
        principal="100.00",
        interest_amount=D("10.00"),
        other_amount=D("5.00"),
    )

    def pay(method, amount, day, actor=users.agent, **kw):
        return payment_record(
            case=case, amount=amount, collected_on=date(2026, 11, day), method=method, actor=actor, **kw
        )

    pay(PaymentMethod.TRANSFER, "30.00", 3, reference="VIR-001")
    cheque = pay(PaymentMethod.CHEQUE, "20.00", 4, reference="CHQ-123")
    pay(PaymentMethod.CARD, "10.00", 5)
    pay(PaymentMethod.CASH, "15.00", 6)
    pay(PaymentMethod.DIRECT, "25.00", 7, actor=users.collaborator, source=PaymentSource.CREDITOR)
    payment_reverse(payment=cheque, reversed_on=date(2026, 11, 10), reason="Chèque impayé", actor=users.agent)
    pay(PaymentMethod.TRANSFER, "50.00", 12, reference="VIR-002")
    refund_record(
        case=case,
        amount="10.00",
        refunded_on=date(2026, 11, 14),
        method=PaymentMethod.TRANSFER,
        reference="REMB-1",
        actor=users.agent,
    )
    case.refresh_from_db()
    return case


@pytest.fixture
def cdop_case(reference, now):
    return make_case(structure=reference.cdop, reference="DEC-CDOP")


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- the figures -------------------------------------------------------------------------------------------


def test_statement_figures_for_payments_of_each_method_a_reversal_and_a_refund(case):
    s = case_statement(case=case)

    assert s.drawn_at == NOW
    assert [(c.label, c.claimed, c.paid, c.remaining) for c in s.components] == [
        ("Principal", D("100.00"), D("100.00"), D("0.00")),
        ("Intérêts", D("10.00"), D("10.00"), D("0.00")),
        ("Accessoires", D("5.00"), D("5.00"), D("0.00")),
    ]
    assert [(p.collected_on.day, p.method, p.amount, p.source, p.reference) for p in s.payments] == [
        (3, "transfer", D("30.00"), "agent", "VIR-001"),
        (4, "cheque", D("20.00"), "agent", "CHQ-123"),
        (5, "card", D("10.00"), "agent", ""),
        (6, "cash", D("15.00"), "agent", ""),
        (7, "direct", D("25.00"), "creditor", ""),
        (12, "transfer", D("50.00"), "agent", "VIR-002"),
    ]
    assert [(r.reversed_on, r.reason, r.payment.amount) for r in s.reversals] == [
        (date(2026, 11, 10), "Chèque impayé", D("20.00"))
    ]
    assert [(r.refunded_on, r.amount, r.reference) for r in s.refunds] == [(date(2026, 11, 14), D("10.00"), "REMB-1")]
    assert s.remittances == []
    totals = {
        "payments": s.payments_total,
        "reversals": s.reversals_total,
        "refunds": s.refunds_total,
        "net_paid": s.net_paid,
        "overpaid": s.overpaid,
        "recovered": s.recovered,
        "direct": s.direct_total,
        "agency": s.collected_by_agency,
        "remitted": s.remitted_total,
        "to_remit": s.to_remit,
        "balance": s.balance,
    }
    assert totals == {
        "payments": D("150.00"),
        "reversals": D("20.00"),
        "refunds": D("10.00"),
        "net_paid": D("120.00"),
        "overpaid": D("5.00"),
        "recovered": D("115.00"),
        "direct": D("25.00"),
        "agency": D("90.00"),
        "remitted": D("0.00"),
        "to_remit": D("90.00"),
        "balance": D("0.00"),
    }
    # The statement agrees with what the case says of itself.
    assert (s.net_paid, s.balance, s.overpaid) == (case.paid_amount, case.balance, case.overpaid_amount)
    assert case.status == CaseStatus.PAID


def test_a_reversed_direct_payment_is_not_counted_as_paid_to_the_creditor(reference, users, now):
    case = make_case(structure=reference.csr, principal="80.00")
    direct = payment_record(
        case=case, amount="30.00", collected_on=date(2026, 11, 5), method=PaymentMethod.DIRECT, actor=users.agent
    )
    payment_record(case=case, amount="20.00", collected_on=date(2026, 11, 6), method="cheque", actor=users.agent)
    payment_reverse(payment=direct, reversed_on=date(2026, 11, 9), reason="Déclaré par erreur", actor=users.agent)

    s = case_statement(case=case)

    assert (s.direct_total, s.collected_by_agency, s.to_remit, s.balance) == (
        D("0.00"),
        D("20.00"),
        D("20.00"),
        D("60.00"),
    )


def test_remitted_amounts_come_from_the_registered_reader(case, monkeypatch):
    """Remittances (an app above payments) register a reader; until then « Reversé au créancier » is 0,00 €."""
    seen = []

    def reader(read_case):
        seen.append(read_case.pk)
        return [RemittedLine(remitted_on=date(2026, 11, 16), reference="REV-2026-46", amount=D("60.00"))]

    monkeypatch.setattr(statement_module, "_remittance_reader", None)
    statement_module.register_remittance_reader(reader)

    s = case_statement(case=case)

    assert seen == [case.pk]
    assert (s.remitted_total, s.to_remit) == (D("60.00"), D("30.00"))
    text = pdf_text(statement_module.statement_pdf(s))
    assert "16/11/2026 REV-2026-46 60,00 €" in text
    assert "Reversé au créancier 60,00 € Reste à reverser au créancier 30,00 €" in text


def test_the_statement_costs_the_same_queries_whatever_the_number_of_payments(reference, users, now):
    few = make_case(structure=reference.csr, principal="5000.00")
    many = make_case(structure=reference.csr, principal="5000.00")
    payment_record(case=few, amount="10.00", collected_on=date(2026, 11, 3), method="transfer", actor=users.agent)
    for day in range(1, 21):
        payment = payment_record(
            case=many, amount="10.00", collected_on=date(2026, 11, day), method="cheque", actor=users.agent
        )
        if day % 5 == 0:
            payment_reverse(payment=payment, reversed_on=date(2026, 11, day), reason="Impayé", actor=users.agent)
    seen = []
    for case in (few, many):
        with CaptureQueriesContext(connection) as queries:
            s = case_statement(case=case)
        seen.append((len(queries), len(s.payments), len(s.reversals)))

    # Five queries, and one more for what was remitted (the remittances app's reader).
    assert seen == [(6, 1, 0), (6, 20, 4)]


# --- the PDF -----------------------------------------------------------------------------------------------


def test_pdf_lists_each_line_and_the_totals_with_both_identities(client, case, users):
    client.force_login(users.agent)

    response = client.get(f"/paiements/dossiers/{case.pk}/decompte/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert 'filename="decompte-DEC-0001-20261120-1000.pdf"' in response["Content-Disposition"]
    data = response.content
    assert is_pdf_a(data)
    text = pdf_text(data)
    # Dated and timestamped, from the agency to the creditor.
    assert "Décompte financier du dossier DEC-0001" in text
    assert "arrêté le 20/11/2026 à 10:00" in text
    assert "Document de consultation édité à la demande, non numéroté" in text
    assert "Amiable Recouvrement SAS" in text and "SIRET 55208131766522" in text
    assert "À l'attention de : Caisse Primaire d'Assurance Maladie de Paris" in text
    assert "Structure : Centre de Santé Réaumur (CSR)" in text
    # Claimed, by component.
    assert "Principal 100,00 € 100,00 € 0,00 €" in text
    assert "Intérêts 10,00 € 10,00 € 0,00 €" in text
    assert "Accessoires 5,00 € 5,00 € 0,00 €" in text
    assert "Montant initial transmis par le créancier : 115,00 €" in text
    # Each payment: date, method, origin, reference, amount; the direct one and the bounced one say so.
    for line in (
        "03/11/2026 Virement Saisi par l'agence VIR-001 30,00 €",
        "04/11/2026 Chèque rejeté le 10/11/2026 Saisi par l'agence CHQ-123 20,00 €",
        "05/11/2026 Carte bancaire Saisi par l'agence — 10,00 €",
        "06/11/2026 Espèces Saisi par l'agence — 15,00 €",
        "07/11/2026 Paiement direct au créancier Déclaré par le créancier — 25,00 €",
        "12/11/2026 Virement Saisi par l'agence VIR-002 50,00 €",
        "Total des paiements reçus 150,00 €",
        "10/11/2026 Chèque du 04/11/2026 Chèque impayé 20,00 €",
        "14/11/2026 Virement REMB-1 10,00 €",
        "Aucun reversement à ce jour.",
    ):
        assert line in text, line
    assert (
        "Solde réclamé 115,00 € Paiements reçus 150,00 € Paiements rejetés − 20,00 € "
        "Trop-perçus remboursés au débiteur − 10,00 € Payé net 120,00 € "
        "Trop-perçu à rembourser au débiteur 5,00 € Recouvré pour le créancier 115,00 € "
        "dont payé directement au créancier 25,00 € dont encaissé par l'agence 90,00 € "
        "Reversé au créancier 0,00 € Reste à reverser au créancier 90,00 € Reste dû par le débiteur 0,00 €"
    ) in text
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind, entry.case_pk, entry.creditor_pk, entry.label) == (
        users.agent,
        "document",
        case.pk,
        case.creditor_id,
        "Décompte financier du dossier DEC-0001 (PDF)",
    )


# --- the page and who may see it ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "supervisor", "collaborator", "csr_only"])
def test_page_and_pdf_for_the_agency_and_the_cases_creditor(client, case, users, who):
    user = getattr(users, who)
    client.force_login(user)

    page = client.get(f"/paiements/dossiers/{case.pk}/decompte/")
    pdf = client.get(f"/paiements/dossiers/{case.pk}/decompte/pdf/")

    assert page.status_code == 200
    html = squash(page.content.decode())
    assert "Décompte financier du dossier DEC-0001" in html
    assert "Arrêté le 20/11/2026 à 10:00" in html
    for fragment in (
        "VIR-001",
        "CHQ-123",
        "Paiement direct au créancier",
        "Rejeté le 10/11/2026",
        "Chèque impayé",
        "REMB-1",
        '<th scope="row">Reversé au créancier</th><td class="num">0,00 €</td>',
        '<th scope="row">Reste à reverser au créancier</th><td class="num">90,00 €</td>',
        '<th scope="row">Trop-perçu à rembourser au débiteur</th><td class="num">5,00 €</td>',
        '<th scope="row">Reste dû par le débiteur</th><td class="num">0,00 €</td>',
        f'href="/paiements/dossiers/{case.pk}/decompte/pdf/"',
    ):
        assert fragment in html, fragment
    assert pdf.status_code == 200 and "Payé net 120,00 €" in pdf_text(pdf.content)
    assert list(AccessLogEntry.objects.order_by("pk").values_list("user", "kind", "case_pk", "label")) == [
        (user.pk, "document", case.pk, "Décompte financier du dossier DEC-0001"),
        (user.pk, "document", case.pk, "Décompte financier du dossier DEC-0001 (PDF)"),
    ]


def test_the_case_page_links_to_the_statement(client, case, users):
    for user in (users.agent, users.collaborator):
        client.force_login(user)
        html = client.get(f"/dossiers/{case.pk}/").content.decode()
        assert f'<a href="/paiements/dossiers/{case.pk}/decompte/">Décompte financier</a>' in html
        assert f'<a href="/paiements/dossiers/{case.pk}/decompte/pdf/">en PDF</a>' in html


def test_another_creditor_and_a_user_outside_the_structure_get_404(client, case, cdop_case, users):
    document = services_statement.statement_issue(case=cdop_case, actor=users.agent)
    refused = [
        (users.other_admin, case),
        (users.other_admin, cdop_case),
        (users.csr_only, cdop_case),  # CPAM staff limited to the CSR structure: not the CDOP's cases
    ]
    for user, target in refused:
        client.force_login(user)
        for path in (f"/paiements/dossiers/{target.pk}/decompte/", f"/paiements/dossiers/{target.pk}/decompte/pdf/"):
            assert client.get(path).status_code == 404, (user, path)
    for user in (users.other_admin, users.csr_only):
        client.force_login(user)
        assert client.get(f"/paiements/decomptes/{document.pk}/").status_code == 404
    client.logout()
    assert client.get(f"/paiements/dossiers/{case.pk}/decompte/").status_code == 302  # to the login page
    assert not AccessLogEntry.objects.exists()


def test_the_page_costs_the_same_queries_whatever_the_number_of_payments(
    client, reference, users, now, django_assert_max_num_queries
):
    few = make_case(structure=reference.csr, principal="5000.00")
    many = make_case(structure=reference.csr, principal="5000.00")
    payment_record(case=few, amount="10.00", collected_on=date(2026, 11, 3), method="transfer", actor=users.agent)
    for day in range(1, 16):
        payment = payment_record(
            case=many, amount="10.00", collected_on=date(2026, 11, day), method="card", actor=users.agent
        )
        if day % 3 == 0:
            payment_reverse(payment=payment, reversed_on=date(2026, 11, day), reason="Opposition", actor=users.agent)
    client.force_login(users.collaborator)
    counts = []
    for case in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/paiements/dossiers/{case.pk}/decompte/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # Session, user, scope, case, statement (5 + 1 for the remittances), access log, statements sent,
    # notifications badge, creditor.
    with django_assert_max_num_queries(17):
        client.get(f"/paiements/dossiers/{many.pk}/decompte/")


# --- the automatic answer to a creditor's statement request ---------------------------------------------------


def test_a_statement_request_is_answered_at_once_with_the_statement(client, case, users):
    Notification.objects.all().delete()
    client.force_login(users.collaborator)

    response = client.post(f"/dossiers/{case.pk}/demandes/", {"kind": "statement", "body": "Pour la commission"})

    assert response.status_code == 302
    assert flash(response) == ["Décompte financier établi : il est joint à la réponse à votre demande, ci-dessous."]
    request = CreditorRequest.objects.get()
    document = Statement.objects.get()
    # Answered at once, within its 48-hour clock.
    assert request.kind == RequestKind.STATEMENT
    assert request.status == RequestStatus.ANSWERED
    assert request.due_at == NOW + timedelta(hours=48)
    assert request.answered_at == NOW
    assert request.answered_by is None  # drawn up by the application, not by an agent
    assert request.answered_in_time is True
    answered = AuditEvent.objects.get(verb="request.answered")
    assert (answered.actor, answered.case_pk, answered.after["late"]) == (None, case.pk, False)
    # The numbered statement, stored once with its hash, and linked in the answer.
    assert (document.number, document.case, document.request, document.issued_for) == (
        "DF-2026-000001",
        case,
        request,
        users.collaborator,
    )
    assert (document.claimed_amount, document.paid_amount, document.balance) == (D("115.00"), D("120.00"), D("0.00"))
    with document.pdf.open("rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == document.sha256
    assert is_pdf_a(data)
    text = pdf_text(data)
    assert "Décompte n° DF-2026-000001 — arrêté le 20/11/2026 à 10:00" in text
    assert "Document de consultation" not in text
    assert "07/11/2026 Paiement direct au créancier Déclaré par le créancier — 25,00 €" in text
    assert "Reversé au créancier 0,00 € Reste à reverser au créancier 90,00 € Reste dû par le débiteur 0,00 €" in text
    assert request.answer == (
        "Décompte financier DF-2026-000001 du dossier DEC-0001, arrêté le 20/11/2026 à 10:00 : solde réclamé "
        "115,00\u00a0€, payé 120,00\u00a0€, reste dû 0,00\u00a0€. Le décompte détaillé est joint en PDF."
    )
    assert request.answer_url == f"/paiements/decomptes/{document.pk}/"
    issued = AuditEvent.objects.get(verb="statement.issued")
    assert (issued.actor, issued.case_pk, issued.after["number"], issued.after["request"]) == (
        users.collaborator,
        case.pk,
        "DF-2026-000001",
        request.pk,
    )
    # The creditor is told, the note leading to the statement; the agency hears of it, without urgency.
    note = Notification.objects.get(kind="request_answered")
    assert (note.recipient, note.url, note.case_pk) == (users.collaborator, request.answer_url, case.pk)
    assert note.title == "Réponse de l'agence : décompte financier du dossier"
    agency_notes = Notification.objects.filter(kind="request_answered_automatically")
    assert agency_notes.exists() and not agency_notes.filter(urgent=True).exists()
    assert not Notification.objects.filter(kind="request_created").exists()

    # The creditor reads the answer with its clock met and opens the stored statement.
    for path in ("/demandes/?etat=traitees", f"/dossiers/{case.pk}/"):
        html = client.get(path).content.decode()
        assert "DF-2026-000001" in html
        assert f'href="/paiements/decomptes/{document.pk}/"' in html
        assert ("délai respecté" in html) or ("Délai respecté" in html)
        assert "clock late" not in html
    download = client.get(f"/paiements/decomptes/{document.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == data
    assert AccessLogEntry.objects.filter(label="Décompte DF-2026-000001", user=users.collaborator).count() == 1
    # The statements page of the case lists it.
    assert "Décompte DF-2026-000001 (PDF)" in client.get(f"/paiements/dossiers/{case.pk}/decompte/").content.decode()


def test_statements_sent_are_numbered_without_gaps(case, users):
    first = request_create(kind=RequestKind.STATEMENT, body="", actor=users.collaborator, case=case)
    second = request_create(kind=RequestKind.STATEMENT, body="", actor=users.approver, case=case)

    assert [first.statement.number, second.statement.number] == ["DF-2026-000001", "DF-2026-000002"]
    assert NumberSequence.objects.get(name="statement", year=2026).last == 2


def test_without_a_provider_the_request_waits_for_the_agency(case, users, monkeypatch):
    monkeypatch.setattr(hooks, "_statement_provider", None)

    request = request_create(kind=RequestKind.STATEMENT, body="", actor=users.collaborator, case=case)

    assert request.status == RequestStatus.OPEN
    assert not Statement.objects.exists()
    assert Notification.objects.filter(kind="request_created", urgent=True).exists()


def test_a_statement_that_cannot_be_drawn_up_leaves_the_request_open_and_nothing_half_written(case, users, monkeypatch):
    def broken(statement, *, number=""):
        raise RuntimeError("moteur PDF indisponible")

    monkeypatch.setattr(services_statement, "statement_pdf", broken)

    request = request_create(kind=RequestKind.STATEMENT, body="", actor=users.collaborator, case=case)

    request.refresh_from_db()
    assert (request.status, request.answer, request.answer_url, request.answered_at) == (
        RequestStatus.OPEN,
        "",
        "",
        None,
    )
    assert not Statement.objects.exists()
    assert not NumberSequence.objects.filter(name="statement").exists()  # the number was not used
    assert not AuditEvent.objects.filter(verb__in=["statement.issued", "request.answered"]).exists()
    assert Notification.objects.filter(kind="request_created", urgent=True).exists()
    assert not Notification.objects.filter(kind="request_answered").exists()
    # Once the statement can be drawn up again, the next one takes the first number.
    monkeypatch.undo()
    again = request_create(kind=RequestKind.STATEMENT, body="", actor=users.collaborator, case=case)
    assert again.statement.number == "DF-2026-000001"


def test_the_payments_app_registers_the_provider():
    assert hooks.statement_provider() is statement_answer
