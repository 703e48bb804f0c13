"""Monthly commission invoices: the commission per line rounded to the cent and VAT on the total, the rate of
the structure or of the contract, direct payments, failed and recalled cases, overpayments, idempotence, late
payments, credit notes of reversals, gap-free numbers, a crash half-way, the run's JSON and dry run, and the
number of queries."""

import json
from datetime import datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import CaseStatus
from amiable.cases.services import case_transition
from amiable.core.dates import add_months, month_bounds
from amiable.core.exceptions import ApplicationError
from amiable.creditor_requests.services import case_recall
from amiable.creditors.models import ContractTerms, Structure
from amiable.invoicing import services
from amiable.invoicing.models import Invoice, InvoicedItem, InvoiceKind, InvoiceLine, InvoiceStatus
from amiable.invoicing.services import invoices_build
from amiable.payments.models import PaymentMethod
from amiable.payments.services import payment_record, payment_reverse
from tests.factories import make_case

pytestmark = pytest.mark.django_db

D = Decimal


def today():
    return timezone.localdate()


def month(n):
    """(start, end) of the month n months before the current one (1: the last complete month)."""
    return month_bounds(add_months(today().replace(day=1), -n))


def day(n, d):
    """Day d of the month n months before the current one."""
    return month(n)[0].replace(day=d)


def pay(case, amount, on, actor, method=PaymentMethod.TRANSFER):
    return payment_record(case=case, amount=amount, collected_on=on, method=method, actor=actor)


def build(n=1, **kwargs):
    return invoices_build(month=month(n)[0], actor=None, **kwargs)


def invoice_of(structure, kind=InvoiceKind.INVOICE, n=1):
    return Invoice.objects.get(structure=structure, kind=kind, period_start=month(n)[0])


def at_noon(on):
    return timezone.make_aware(datetime.combine(on, time(12, 0)))


# --- the amounts ------------------------------------------------------------------------------------------


def test_commission_is_rounded_per_line_and_vat_on_the_total(reference, users):
    """15 % of 10.10 is 1.515: each line rounds half-up to 1.52, three lines make 4.56 where rounding the
    sum (30.30 × 15 % = 4.545) would give 4.55. VAT 20 % of 4.56 = 0.912 -> 0.91."""
    cases = [make_case(structure=reference.csr, principal="100.00") for _ in range(3)]
    pay(cases[0], "10.10", day(1, 3), users.agent)
    pay(cases[1], "10.10", day(1, 5), users.agent, method=PaymentMethod.CHEQUE)
    pay(cases[2], "10.05", day(1, 7), users.agent)  # two payments of one case make one line
    pay(cases[2], "0.05", day(1, 9), users.agent, method=PaymentMethod.CARD)

    run = build()

    assert run.created == 1
    invoice = invoice_of(reference.csr)
    assert invoice.kind == InvoiceKind.INVOICE and invoice.credited is None
    assert (invoice.period_start, invoice.period_end) == month(1)
    assert invoice.commission_rate == D("15.00") and invoice.vat_rate == D("20.00")
    assert invoice.base == D("30.30")
    assert invoice.commission == D("4.56")
    assert invoice.vat == D("0.91")
    assert invoice.total == D("5.47")
    lines = {line.case_id: line for line in invoice.lines.all()}
    assert set(lines) == {c.pk for c in cases}
    assert all((line.base, line.commission) == (D("10.10"), D("1.52")) for line in lines.values())
    assert lines[cases[2].pk].items.count() == 2
    assert sum(item.base for item in InvoicedItem.objects.all()) == invoice.base
    assert invoice.issued_on == today() and invoice.due_on == today() + timedelta(days=30)
    assert invoice.number == f"FA-{today().year}-{int(invoice.number[-6:]):06d}"


def test_the_structures_rate_overrides_the_contracts(reference, users):
    Structure.objects.filter(pk=reference.csr.pk).update(commission_rate=D("10.00"))
    pay(make_case(structure=reference.csr, principal="500.00"), "200.00", day(1, 4), users.agent)
    pay(make_case(structure=reference.cdop, principal="500.00"), "200.00", day(1, 4), users.agent)

    build()

    csr, cdop = invoice_of(reference.csr), invoice_of(reference.cdop)
    assert (csr.commission_rate, csr.commission, csr.vat, csr.total) == (D("10.00"), D("20.00"), D("4.00"), D("24.00"))
    assert (cdop.commission_rate, cdop.commission, cdop.total) == (D("15.00"), D("30.00"), D("36.00"))


def test_direct_payments_bear_commission_only_if_the_contract_says_so(reference, users):
    ContractTerms.objects.filter(creditor=reference.other).update(direct_payments_bear_commission=True)
    cpam_case = make_case(structure=reference.csr, principal="100.00")
    other_case = make_case(structure=reference.other_structure, principal="100.00")
    cpam_direct = pay(cpam_case, "40.00", day(1, 3), users.agent, method=PaymentMethod.DIRECT)
    pay(cpam_case, "20.00", day(1, 4), users.agent)
    other_direct = pay(other_case, "40.00", day(1, 3), users.agent, method=PaymentMethod.DIRECT)

    build()

    assert invoice_of(reference.csr).base == D("20.00")
    assert not InvoicedItem.objects.filter(payment=cpam_direct).exists()
    assert invoice_of(reference.other_structure).base == D("40.00")
    assert InvoicedItem.objects.get(payment=other_direct).base == D("40.00")


def test_a_case_closed_without_recovery_bears_no_commission(reference, users):
    failed = make_case(structure=reference.csr, principal="300.00")
    kept = make_case(structure=reference.csr, principal="300.00")
    pay(failed, "50.00", day(1, 3), users.agent)  # a part payment, then the case fails
    pay(kept, "80.00", day(1, 3), users.agent)
    case_transition(case=failed, to=CaseStatus.IRRECOVERABLE, actor=users.agent, reason="Débiteur introuvable")

    build()

    invoice = invoice_of(reference.csr)
    assert invoice.base == D("80.00")
    assert list(invoice.lines.values_list("case_id", flat=True)) == [kept.pk]


def test_a_case_that_fails_after_being_invoiced_is_credited_back(reference, users):
    """C24: « classé sans aucune facturation » — what was invoiced of it before it failed is credited."""
    case = make_case(structure=reference.csr, principal="300.00")
    pay(case, "50.00", day(2, 3), users.agent)
    build(2)
    with time_machine.travel(at_noon(day(1, 12)), tick=False):
        case_transition(case=case, to=CaseStatus.IRRECOVERABLE, actor=users.agent, reason="Insolvable")
    case_transition(case=case, to=CaseStatus.CLOSED, actor=users.agent, reason="Pièces restituées")

    build(1)

    credit = invoice_of(reference.csr, InvoiceKind.CREDIT_NOTE)
    assert credit.credited == invoice_of(reference.csr, n=2)
    assert (credit.base, credit.commission, credit.vat, credit.total) == (D("50.00"), D("7.50"), D("1.50"), D("9.00"))
    assert build(1).created == 0


def test_a_case_reopened_after_being_declared_irrecoverable_then_paid_and_closed_bears_commission(reference, users):
    """Declared irrecoverable, reopened (the debtor was found), paid in full and closed: it did not fail (C24 does
    not apply) and its payment is invoiced."""
    case = make_case(structure=reference.csr, principal="300.00")
    with time_machine.travel(at_noon(day(1, 2)), tick=False):
        case_transition(case=case, to=CaseStatus.IRRECOVERABLE, actor=users.agent, reason="Introuvable")
    with time_machine.travel(at_noon(day(1, 3)), tick=False):
        case_transition(case=case, to=CaseStatus.IN_PROGRESS, actor=users.supervisor, reason="Débiteur retrouvé")
    pay(case, "300.00", day(1, 4), users.agent)
    case_transition(case=case, to=CaseStatus.CLOSED, actor=users.agent, reason="Pièces restituées")

    build()

    assert invoice_of(reference.csr).base == D("300.00")


def test_after_a_recall_only_what_was_collected_before_it_bears_commission(reference, users):
    case = make_case(structure=reference.csr, principal="300.00")
    pay(case, "30.00", day(1, 3), users.agent)
    with time_machine.travel(at_noon(day(1, 10)), tick=False):
        case_recall(case=case, reason="Dossier repris par la CPAM", actor=users.approver)
    pay(case, "20.00", day(1, 10), users.agent)  # the day of the recall: still before it
    late = pay(case, "45.00", day(1, 11), users.agent)  # money is the creditor's, but bears no commission

    build()

    assert invoice_of(reference.csr).base == D("50.00")
    assert not InvoicedItem.objects.filter(payment=late).exists()


def test_an_overpayment_is_not_in_the_base(reference, users):
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "60.00", day(1, 3), users.agent)
    overpaying = pay(case, "70.00", day(1, 5), users.agent)  # 40.00 on the claim, 30.00 held for the debtor
    only_over = pay(case, "10.00", day(1, 6), users.agent)  # wholly overpaid: nothing recovered

    build()

    assert invoice_of(reference.csr).base == D("100.00")
    assert InvoicedItem.objects.get(payment=overpaying).base == D("40.00")
    assert not InvoicedItem.objects.filter(payment=only_over).exists()


# --- runs ---------------------------------------------------------------------------------------------------


def test_a_second_run_creates_nothing(reference, users):
    pay(make_case(structure=reference.csr, principal="100.00"), "40.00", day(1, 3), users.agent)
    pay(make_case(structure=reference.cdop, principal="100.00"), "40.00", day(1, 3), users.agent)
    first = build()
    second = build()
    assert (first.created, second.created) == (2, 0)
    assert second.invoices == first.invoices
    assert Invoice.objects.count() == 2 and InvoiceLine.objects.count() == 2 and InvoicedItem.objects.count() == 2
    assert AuditEvent.objects.filter(verb="invoice.issued").count() == 2


def test_a_payment_recorded_late_goes_into_the_next_months_invoice(reference, users):
    case = make_case(structure=reference.csr, principal="300.00")
    pay(case, "40.00", day(2, 3), users.agent)
    build(2)
    late = pay(case, "10.00", day(2, 20), users.agent)  # collected in that month, recorded after its run
    assert build(2).created == 0
    assert invoice_of(reference.csr, n=2).base == D("40.00")

    build(1)

    assert invoice_of(reference.csr, n=1).base == D("10.00")
    assert InvoicedItem.objects.get(payment=late).line.invoice == invoice_of(reference.csr, n=1)


def test_a_payment_reversed_before_the_end_of_the_month_is_not_invoiced(reference, users):
    case = make_case(structure=reference.csr, principal="300.00")
    bounced = pay(case, "100.00", day(1, 3), users.agent, method=PaymentMethod.CHEQUE)
    payment_reverse(payment=bounced, reversed_on=day(1, 8), reason="Chèque impayé", actor=users.agent)
    pay(case, "25.00", day(1, 9), users.agent)

    build()

    assert invoice_of(reference.csr).base == D("25.00")
    assert not InvoicedItem.objects.filter(payment=bounced).exists()
    assert not Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).exists()


def test_a_reversal_of_an_invoiced_payment_makes_a_credit_note_once(reference, users):
    case = make_case(structure=reference.csr, principal="500.00")
    other = make_case(structure=reference.csr, principal="500.00")
    bounced = pay(case, "133.33", day(2, 3), users.agent, method=PaymentMethod.CHEQUE)
    pay(case, "66.67", day(2, 4), users.agent)
    pay(other, "10.10", day(2, 4), users.agent)
    build(2)
    invoice = invoice_of(reference.csr, n=2)
    assert (invoice.base, invoice.commission) == (D("210.10"), D("31.52"))  # 30.00 + 1.52
    payment_reverse(payment=bounced, reversed_on=day(1, 5), reason="Chèque impayé", actor=users.agent)
    pay(other, "20.00", day(1, 6), users.agent)

    run = build(1)

    assert run.created == 2
    credit = invoice_of(reference.csr, InvoiceKind.CREDIT_NOTE)
    assert credit.credited == invoice
    # 133.33 × 15 % = 19.9995 -> 20.00; VAT 4.00.
    amounts = (credit.base, credit.commission, credit.vat, credit.total)
    assert amounts == (D("133.33"), D("20.00"), D("4.00"), D("24.00"))
    assert (credit.commission_rate, credit.vat_rate) == (invoice.commission_rate, invoice.vat_rate)
    assert [(line.case_id, line.base) for line in credit.lines.all()] == [(case.pk, D("133.33"))]
    item = InvoicedItem.objects.get(payment=bounced, is_credit=True)
    assert item.base == D("-133.33") and item.line.invoice == credit
    assert invoice_of(reference.csr).base == D("20.00")  # the month's own invoice, beside the credit note

    again = build(1)
    assert again.created == 0
    assert Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).count() == 1
    assert InvoicedItem.objects.filter(is_credit=True).count() == 1


def test_credit_notes_never_take_back_more_than_the_line_bore(reference, users):
    """Two payments of 10.10 € invoiced on one line: 20.20 × 15 % = 3.03 €. Reversed in two later months,
    each credit alone would round to 1.52 €; the second takes back what is left of the line, 1.51 €."""
    case = make_case(structure=reference.csr, principal="500.00")
    first = pay(case, "10.10", day(3, 2), users.agent, method=PaymentMethod.CHEQUE)
    second = pay(case, "10.10", day(3, 3), users.agent, method=PaymentMethod.CHEQUE)
    build(3)
    assert invoice_of(reference.csr, n=3).commission == D("3.03")
    payment_reverse(payment=first, reversed_on=day(2, 5), reason="Chèque impayé", actor=users.agent)
    build(2)
    payment_reverse(payment=second, reversed_on=day(1, 5), reason="Chèque impayé", actor=users.agent)
    build(1)
    credits = [invoice_of(reference.csr, InvoiceKind.CREDIT_NOTE, n=n).commission for n in (2, 1)]
    assert credits == [D("1.52"), D("1.51")]
    assert sum(credits) == D("3.03")


def test_numbers_are_gap_free_across_invoices_and_credit_notes(reference, users):
    csr = make_case(structure=reference.csr, principal="500.00")
    bounced = pay(csr, "100.00", day(2, 3), users.agent, method=PaymentMethod.CHEQUE)
    pay(make_case(structure=reference.cdop, principal="500.00"), "50.00", day(2, 3), users.agent)
    build(2)
    payment_reverse(payment=bounced, reversed_on=day(1, 2), reason="Chèque impayé", actor=users.agent)
    pay(csr, "30.00", day(1, 3), users.agent)
    pay(make_case(structure=reference.other_structure, principal="500.00"), "50.00", day(1, 3), users.agent)
    build(1)

    numbers = list(Invoice.objects.order_by("pk").values_list("number", "kind"))
    assert [kind for _, kind in numbers].count(InvoiceKind.CREDIT_NOTE) == 1 and len(numbers) == 5
    serial = [int(number.rsplit("-", 1)[1]) for number, _ in numbers]
    assert serial == list(range(serial[0], serial[0] + 5))
    assert all(number.startswith(f"FA-{today().year}-") for number, _ in numbers)


def test_a_crash_half_way_leaves_no_partial_invoice_and_the_next_run_completes(reference, users, monkeypatch):
    for structure in (reference.csr, reference.cdop, reference.other_structure):
        pay(make_case(structure=structure, principal="100.00"), "20.00", day(1, 3), users.agent)
    real_audit = services.audit_record
    calls = []

    def audit_then_crash(**kwargs):
        calls.append(kwargs["verb"])
        if calls.count("invoice.issued") == 2:  # the second structure: invoice, lines, items written, then a crash
            raise RuntimeError("panne")
        return real_audit(**kwargs)

    monkeypatch.setattr(services, "audit_record", audit_then_crash)
    with pytest.raises(RuntimeError):
        build()
    assert Invoice.objects.count() == 1
    assert InvoiceLine.objects.count() == 1 and InvoicedItem.objects.count() == 1

    monkeypatch.setattr(services, "audit_record", real_audit)
    run = build()
    assert run.created == 2 and len(run.invoices) == 3
    assert Invoice.objects.count() == 3 and InvoicedItem.objects.count() == 3
    serial = sorted(int(i.number[-6:]) for i in Invoice.objects.all())
    assert serial == list(range(serial[0], serial[0] + 3))  # the rolled-back number was given back
    assert all(i.pdf and i.sha256 for i in Invoice.objects.all())


def test_a_failing_document_is_finished_by_the_next_run(reference, users, monkeypatch, mailoutbox):
    Structure.objects.filter(pk=reference.cdop.pk).update(finance_email="finances-cdop@cpam-paris.example")
    for structure in (reference.csr, reference.cdop, reference.cesa):
        pay(make_case(structure=structure, principal="100.00"), "20.00", day(1, 3), users.agent)
    real_pdf = services.documents.invoice_pdf
    rendered = []

    def pdf_then_crash(invoice):
        rendered.append(invoice.number)
        if len(rendered) == 2:
            raise RuntimeError("WeasyPrint en panne")
        return real_pdf(invoice)

    monkeypatch.setattr(services.documents, "invoice_pdf", pdf_then_crash)
    run = build()
    assert run.created == 3 and len(run.failures) == 1 and "WeasyPrint en panne" in run.failures[0]
    broken = Invoice.objects.get(number=rendered[1])
    assert not broken.pdf and broken.sha256 == "" and broken.status == InvoiceStatus.PREPARED
    assert broken.lines.count() == 1  # the invoice itself is whole: only its file is missing
    assert len(mailoutbox) == 2

    monkeypatch.setattr(services.documents, "invoice_pdf", real_pdf)
    again = build()
    assert again.created == 0 and again.failures == []
    broken.refresh_from_db()
    assert broken.pdf and broken.status == InvoiceStatus.SENT
    assert len(mailoutbox) == 3 and Invoice.objects.count() == 3


def test_an_unfinished_month_is_refused(reference):
    with pytest.raises(ApplicationError, match="n'est pas terminé"):
        invoices_build(month=today(), actor=None)


def test_a_dry_run_writes_nothing(reference, users, mailoutbox):
    pay(make_case(structure=reference.csr, principal="100.00"), "20.00", day(1, 3), users.agent)
    events = AuditEvent.objects.count()
    run = build(dry_run=True)
    assert run.created == 0
    assert [(r["number"], r["structure"], r["commission"], r["total"]) for r in run.invoices] == [
        ("", "CSR", "3.00", "3.60")
    ]
    assert not Invoice.objects.exists() and not InvoicedItem.objects.exists()
    assert AuditEvent.objects.count() == events and mailoutbox == []


# --- the command --------------------------------------------------------------------------------------------


def command(*args):
    out = StringIO()
    call_command("build_invoices", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_json_shape(reference, users):
    case = make_case(structure=reference.csr, principal="1500.00")
    bounced = pay(case, "1234.56", day(2, 3), users.agent, method=PaymentMethod.CHEQUE)
    command("--month", f"{month(2)[0]:%Y-%m}")
    payment_reverse(payment=bounced, reversed_on=day(1, 3), reason="Chèque impayé", actor=users.agent)
    pay(case, "100.00", day(1, 4), users.agent)

    data = json.loads(command("--json"))  # by default: the last complete month

    assert set(data) == {"month", "invoices", "created"}
    assert data["month"] == f"{month(1)[0]:%Y-%m}" and data["created"] == 2
    rows = {("credit_note" if row["base"].startswith("-") else "invoice"): row for row in data["invoices"]}
    for row in rows.values():
        assert set(row) == {"number", "creditor", "structure", "base", "commission", "vat", "total"}
        assert all(isinstance(row[key], str) for key in ("number", "creditor", "structure", "base", "total"))
    assert rows["invoice"] | {"number": ""} == rows["invoice"] | {
        "number": "",
        "creditor": "cpam-paris",
        "structure": "CSR",
        "base": "100.00",
        "commission": "15.00",
        "vat": "3.00",
        "total": "18.00",
    }
    # 1234.56 × 15 % = 185.184 -> 185.18; VAT 37.036 -> 37.04; a credit note's amounts are negative.
    assert (rows["credit_note"]["base"], rows["credit_note"]["commission"], rows["credit_note"]["total"]) == (
        "-1234.56",
        "-185.18",
        "-222.22",
    )
    assert json.loads(command("--json"))["created"] == 0


def test_the_command_refuses_a_bad_or_unfinished_month(reference):
    with pytest.raises(CommandError, match="Mois invalide : « 2026-13 »"):
        command("--month", "2026-13")
    with pytest.raises(CommandError, match="Mois invalide"):
        command("--month", "octobre")
    with pytest.raises(CommandError, match="n'est pas terminé"):
        command("--month", f"{today():%Y-%m}")


def test_the_command_speaks_french(reference, users):
    pay(make_case(structure=reference.csr, principal="100.00"), "20.00", day(1, 3), users.agent)
    out = command("--dry-run")
    assert out.startswith("Simulation — Mois du ")
    assert "Facture (à créer) cpam-paris/CSR" in out and "TTC 3,60" in out


# --- queries ------------------------------------------------------------------------------------------------


def _queries_of_a_run(reference, users, cases_per_structure, n):
    for structure in (reference.csr, reference.cdop):
        for _ in range(cases_per_structure):
            case = make_case(structure=structure, principal="100.00")
            pay(case, "10.00", day(n, 3), users.agent)
            pay(case, "5.00", day(n, 4), users.agent, method=PaymentMethod.CARD)
    with CaptureQueriesContext(connection) as queries:
        run = build(n)
    assert run.created == 2
    return len(queries)


def test_the_queries_of_a_run_do_not_grow_with_the_cases(reference, users):
    _queries_of_a_run(reference, users, 1, 3)  # the year's number sequence exists from then on
    few = _queries_of_a_run(reference, users, 3, 2)
    many = _queries_of_a_run(reference, users, 30, 1)
    assert many == few
