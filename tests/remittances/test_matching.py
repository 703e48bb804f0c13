"""The debits of the bank statements matched to the remittances they paid: by the transfer's end-to-end
reference, else by amount and date when only one remittance fits; the match marks the transfer executed,
once; the reconciliation counts the remittances the bank has not booked yet."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.banking.models import BankEntry, EntryStatus
from amiable.banking.selectors import reconciliation
from amiable.banking.services import statement_import
from amiable.creditors.selectors import agency_get
from amiable.payments.models import PaymentMethod
from amiable.payments.services import payment_record
from amiable.remittances.matching import remittances_match_pending
from amiable.remittances.models import Remittance, RemittanceStatus
from amiable.remittances.selectors import week_before
from amiable.remittances.services import remittances_build
from tests.factories import make_case

pytestmark = pytest.mark.django_db

D = Decimal


def _entry(ref: str, amount: Decimal, booked: date, *, credit: bool, end_to_end: str = "", text: str = "") -> str:
    refs = f"<Refs><EndToEndId>{end_to_end}</EndToEndId></Refs>" if end_to_end else ""
    return f"""<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy="EUR">{amount:.2f}</Amt>
      <CdtDbtInd>{"CRDT" if credit else "DBIT"}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
      <BookgDt><Dt>{booked.isoformat()}</Dt></BookgDt>
      <NtryDtls><TxDtls>{refs}<RmtInf><Ustrd>{text or "Virement"}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""


def camt(entries: list[tuple], *, opening: Decimal, on: date, statement_id: str) -> bytes:
    """A camt.053.001.08 of the agency's account holding `entries` (ref, amount, credit, end_to_end, text)."""
    closing = opening + sum((a if c else -a for _r, a, c, _e, _t in entries), D("0"))
    iban = agency_get().client_account_iban.replace(" ", "")

    def bal(code, amount):
        indicator = "CRDT" if amount >= 0 else "DBIT"
        return (
            f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{abs(amount):.2f}</Amt>'
            f"<CdtDbtInd>{indicator}</CdtDbtInd><Dt><Dt>{on.isoformat()}</Dt></Dt></Bal>"
        )

    body = "".join(_entry(r, a, on, credit=c, end_to_end=e, text=t) for r, a, c, e, t in entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>{on.isoformat()}T06:00:00+01:00</CreDtTm></GrpHdr>
<Stmt><Id>{statement_id}</Id><CreDtTm>{on.isoformat()}T06:00:00+01:00</CreDtTm>
<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>{bal("OPBD", opening)}{bal("CLBD", closing)}{body}</Stmt>
</BkToCstmrStmt></Document>""".encode()


def _import(content: bytes, name: str = "releve.xml"):
    result = statement_import(content=content, filename=name, actor=None)
    assert result.status == "imported", result.error
    return result


@pytest.fixture
def remitted(reference, users):
    """Two structures paid by transfer during the last complete week, their remittances made and sent."""
    start, _end = week_before(timezone.localdate())
    csr = make_case(structure=reference.csr, principal="300.00")
    cdop = make_case(structure=reference.cdop, principal="300.00")
    payment_record(case=csr, amount="120.40", collected_on=start, method=PaymentMethod.TRANSFER, actor=users.agent)
    payment_record(case=cdop, amount="75.00", collected_on=start, method=PaymentMethod.TRANSFER, actor=users.agent)
    remittances_build(actor=None)
    Remittance.objects.update(status=RemittanceStatus.SENT, sent_at=timezone.now())
    return {r.structure_id: r for r in Remittance.objects.all()}


def test_debit_naming_the_remittance_executes_it(reference, remitted):
    csr = remitted[reference.csr.pk]
    today = timezone.localdate()
    result = _import(
        camt(
            [("D1", csr.total, False, csr.number, f"VIR SEPA {csr.number}"), ("D2", D("3.50"), False, "", "FRAIS")],
            opening=D("500.00"),
            on=today,
            statement_id="S1",
        )
    )
    assert result.debits_matched == 1
    csr.refresh_from_db()
    assert csr.status == RemittanceStatus.EXECUTED
    assert csr.executed_on == today
    entry = BankEntry.objects.get(bank_ref="D1")
    assert csr.bank_entry == entry
    assert entry.status == EntryStatus.REMITTANCE
    assert csr.number in entry.review_note
    assert BankEntry.objects.get(bank_ref="D2").status == EntryStatus.DEBIT  # a fee stays a debit
    event = AuditEvent.objects.get(verb="remittance.executed")
    assert event.after["matched_by"] == "reference"
    # The other structure's remittance waits for its own debit.
    assert Remittance.objects.get(structure=reference.cdop).status == RemittanceStatus.SENT


def test_reference_with_another_amount_is_not_a_match(reference, remitted):
    csr = remitted[reference.csr.pk]
    result = _import(
        camt(
            [("D1", csr.total + D("0.01"), False, csr.number, "VIR")],
            opening=D("500.00"),
            on=timezone.localdate(),
            statement_id="S1",
        )
    )
    assert result.debits_matched == 0
    csr.refresh_from_db()
    assert csr.status == RemittanceStatus.SENT and csr.bank_entry is None


def test_debit_without_reference_matches_the_one_remittance_of_its_amount(reference, remitted):
    cdop = remitted[reference.cdop.pk]
    result = _import(
        camt([("D1", D("75.00"), False, "", "VIREMENT")], opening=D("500"), on=timezone.localdate(), statement_id="S")
    )
    assert result.debits_matched == 1
    cdop.refresh_from_db()
    assert cdop.status == RemittanceStatus.EXECUTED
    assert AuditEvent.objects.get(verb="remittance.executed").after["matched_by"] == "amount_date"


def test_two_remittances_of_the_same_amount_leave_a_debit_without_reference_unmatched(reference, remitted):
    Remittance.objects.update(total=D("75.00"))
    result = _import(
        camt([("D1", D("75.00"), False, "", "VIREMENT")], opening=D("500"), on=timezone.localdate(), statement_id="S")
    )
    assert result.debits_matched == 0
    assert not Remittance.objects.filter(status=RemittanceStatus.EXECUTED).exists()


def test_debit_long_after_the_transfer_is_not_taken_by_its_amount(reference, remitted):
    Remittance.objects.update(sent_at=timezone.now() - timedelta(days=30))
    result = _import(
        camt([("D1", D("75.00"), False, "", "VIREMENT")], opening=D("500"), on=timezone.localdate(), statement_id="S")
    )
    assert result.debits_matched == 0


def test_remittance_executed_by_hand_keeps_its_date_when_its_debit_arrives(reference, remitted):
    csr = remitted[reference.csr.pk]
    hand_date = timezone.localdate() - timedelta(days=1)
    Remittance.objects.filter(pk=csr.pk).update(status=RemittanceStatus.EXECUTED, executed_on=hand_date)
    _import(
        camt([("D1", csr.total, False, csr.number, "VIR")], opening=D("500"), on=timezone.localdate(), statement_id="S")
    )
    csr.refresh_from_db()
    assert csr.executed_on == hand_date
    assert csr.bank_entry.bank_ref == "D1"
    # One « executed » event (none here: the hand-marking was a plain update), then the debit attached.
    assert not AuditEvent.objects.filter(verb="remittance.executed").exists()
    assert AuditEvent.objects.get(verb="remittance.debit_matched").after["bank_entry"] == csr.bank_entry.pk


def test_debit_imported_before_the_remittance_is_matched_by_the_daily_pass(reference, users):
    start, _end = week_before(timezone.localdate())
    case = make_case(structure=reference.csr, principal="300.00")
    payment_record(case=case, amount="42.00", collected_on=start, method=PaymentMethod.TRANSFER, actor=users.agent)
    _import(
        camt([("D1", D("42.00"), False, "", "VIREMENT")], opening=D("500"), on=timezone.localdate(), statement_id="S")
    )
    assert remittances_match_pending() == 0  # no remittance yet
    remittances_build(actor=None)
    Remittance.objects.update(status=RemittanceStatus.SENT, sent_at=timezone.now())
    assert remittances_match_pending() == 1
    assert remittances_match_pending() == 0  # matched once
    assert Remittance.objects.get().status == RemittanceStatus.EXECUTED


def test_reconciliation_counts_the_remittances_the_bank_has_not_booked(reference, users):
    """Money in by the bank, paid back by a remittance: until the statement shows the debit, the remittance
    explains the difference; once it does, nothing is left to explain."""
    today = timezone.localdate()
    start, _end = week_before(today)
    case = make_case(structure=reference.csr, principal="300.00", reference="CPAM-2026-09001")
    credit = [("C1", D("90.00"), True, "", "Dossier CPAM-2026-09001")]
    _import(camt(credit, opening=D("0"), on=start, statement_id="S1"), "s1.xml")
    assert case.payments.get().amount == D("90.00")
    remittances_build(actor=None)
    remittance = Remittance.objects.get()
    _import(camt([], opening=D("90.00"), on=today, statement_id="S1b"), "s1b.xml")  # nothing booked yet
    r = reconciliation()
    assert r.difference == D("90.00")
    assert (r.outgoing.count, r.outgoing.total) == (1, D("90.00"))
    assert r.unexplained == D("0")
    debit = [("D1", D("90.00"), False, remittance.number, "VIR")]
    _import(camt(debit, opening=D("90.00"), on=today, statement_id="S2"), "s2.xml")
    r = reconciliation()
    assert r.difference == D("0") and r.outgoing.count == 0 and r.debits_count == 0
    assert r.unexplained == D("0")
