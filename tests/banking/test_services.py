"""Importing statements of the client-funds account: the matching rule (a whole reference of exactly one open
case, any case of letters), the review queue, debits, importing twice or overlapping statements, and the
files refused whole with nothing stored."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from amiable.audit.models import AuditEvent
from amiable.banking.models import BankEntry, BankStatement, EntryStatus
from amiable.banking.services import statement_import
from amiable.cases.models import CaseStatus
from amiable.cases.services import case_transition
from amiable.core.exceptions import ApplicationError
from amiable.ledger.models import LedgerAccount
from amiable.ledger.selectors import ledger_balance
from amiable.payments.models import Payment, PaymentMethod, PaymentSource
from tests.banking.conftest import import_sample
from tests.banking.records import AGENCY_IBAN, DATA, balance, cfonb, movement
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def stored() -> tuple[int, int, int]:
    return BankStatement.objects.count(), BankEntry.objects.count(), Payment.objects.count()


def entry(**filters) -> BankEntry:
    return BankEntry.objects.get(**filters)


def test_camt_import_pays_credits_naming_one_open_case_and_queues_the_others(cases, users):
    result = import_sample("camt053-001.02-agence.xml", actor=users.agent)

    assert result.as_json() == {
        "status": "imported",
        "format": "camt.053",
        "account": AGENCY_IBAN,
        "entries": 5,
        "credits": 4,
        "debits": 1,
        "matched": 2,
        "to_review": 2,
        "matched_total": "165.50",
        "error": None,
    }
    statement = BankStatement.objects.get()
    assert (statement.opening_balance, statement.closing_balance) == (Decimal("1133.00"), Decimal("1396.50"))
    assert (statement.opening_on, statement.closing_on) == (date(2026, 11, 23), date(2026, 11, 23))
    assert statement.imported_by == users.agent and statement.file.read().startswith(b"<?xml")
    assert (statement.entry_count, statement.new_entry_count) == (5, 5)

    dupre = entry(bank_ref="2026112300001")
    assert dupre.status == EntryStatus.MATCHED and dupre.counterparty == "Éloïse Dupré"
    payment = dupre.payment
    assert payment.case == cases["CPAM-2026-00041"]
    assert (payment.amount, payment.collected_on, payment.method, payment.source, payment.reference) == (
        Decimal("45.00"),
        date(2026, 11, 23),
        PaymentMethod.TRANSFER,
        PaymentSource.BANK,
        "2026112300001",
    )
    assert payment.key == f"bank-entry:{dupre.pk}"
    cases["CPAM-2026-00041"].refresh_from_db()
    assert cases["CPAM-2026-00041"].balance == Decimal("75.50")
    # A structured reference in lower case names the case all the same.
    assert entry(bank_ref="2026112300003").payment.case == cases["CPAM-2026-00057"]
    # No reference at all: the review queue.
    no_ref = entry(amount=Decimal("30.00"))
    assert (no_ref.status, no_ref.bank_ref, no_ref.payment) == (EntryStatus.TO_REVIEW, "", None)
    assert no_ref.label == "Remboursement dette\nE2E-778812"
    # Two cases named in one credit: not « exactly one », so a person decides.
    two = entry(bank_ref="2026112300005")
    assert two.status == EntryStatus.TO_REVIEW and two.review_note == "Le libellé désigne 2 dossiers ouverts."
    fees = entry(bank_ref="2026112300004")
    assert (fees.status, fees.is_credit, fees.payment) == (EntryStatus.DEBIT, False, None)
    assert ledger_balance(account=LedgerAccount.BANK) == Decimal("165.50")
    event = AuditEvent.objects.get(verb="bank_statement.imported")
    assert event.actor == users.agent and event.after["matched"] == 2


def test_credit_bigger_than_the_balance_is_paid_all_the_same(reference, users):
    case = make_case(structure=reference.csr, reference="CPAM-2026-00041", principal="20.00")
    import_sample("camt053-001.02-agence.xml")
    case.refresh_from_db()
    assert case.paid_amount == Decimal("45.00") and case.overpaid_amount == Decimal("25.00")
    assert case.status == CaseStatus.PAID


def test_reference_must_be_a_whole_word(cases):
    result = import_sample("camt053-001.08-agence.xml")
    assert (result.matched, result.to_review, result.matched_total) == (1, 1, Decimal("60.00"))
    assert entry(bank_ref="2026112400001").payment.case == cases["CPAM-2026-00041"]
    # « CPAM-2026-000411 » holds CPAM-2026-00041 followed by a digit: not that case.
    assert entry(bank_ref="2026112400002").status == EntryStatus.TO_REVIEW
    assert entry(bank_ref="2026112400003").status == EntryStatus.DEBIT


def test_whole_word_reference_next_to_punctuation_and_in_any_case(reference, users):
    case = make_case(structure=reference.csr, reference="cpam-2026-00099")
    content = cfonb(
        balance("01", "0", day="251126"),
        movement("10.00", "VIR /REF.CPAM-2026-00099/NOV", ref="R1"),
        movement("11.00", "VIR XCPAM-2026-00099", ref="R2"),
        movement("12.00", "VIR CPAM-2026-00099X", ref="R3"),
        balance("07", "33.00"),
    )
    result = statement_import(content=content, filename="releve.txt", actor=None)
    assert (result.matched, result.to_review) == (1, 2)
    assert entry(bank_ref="R1").payment.case == case


def test_cfonb_import_matches_references_in_complements(cases):
    result = import_sample("cfonb120-banque-a.txt")
    assert result.as_json() == {
        "status": "imported",
        "format": "cfonb120",
        "account": AGENCY_IBAN,
        "entries": 6,
        "credits": 3,
        "debits": 3,
        "matched": 2,
        "to_review": 1,
        "matched_total": "195.00",
        "error": None,
    }
    assert entry(bank_ref="VR26112600000001").payment.case == cases["CPAM75-0000002"]
    # The reference is in the third 05 record of the movement.
    assert entry(bank_ref="VR26112600000002").payment.case == cases["CPAM-2026-00088"]
    assert entry(amount=Decimal("20.00")).status == EntryStatus.TO_REVIEW
    fee1, fee2 = BankEntry.objects.filter(amount=Decimal("1.20")).order_by("rank")
    assert (fee1.rank, fee2.rank, fee1.label, fee1.bank_ref) == (1, 2, fee2.label, "")


def test_cfonb_without_line_breaks_any_case_of_letters(cases):
    result = import_sample("cfonb120-banque-b.txt")
    assert (result.matched, result.to_review, result.debits) == (2, 0, 1)
    gautier = entry(amount=Decimal("75.50"))
    assert gautier.payment.case == cases["CPAM75-0000003"]  # « cpam75-0000003 » in the file
    assert gautier.counterparty == "LÉON GAUTIER" and gautier.value_on == date(2026, 11, 20)


def test_importing_the_same_file_twice_stores_nothing_twice(cases):
    first = import_sample("cfonb120-banque-a.txt")
    before = stored()
    again = import_sample("cfonb120-banque-a.txt")
    assert again.as_json()["status"] == "duplicate"
    assert (again.entries, again.matched, again.to_review, again.matched_total) == (6, 0, 0, Decimal("0"))
    assert again.error.startswith("Ce fichier a déjà été importé le ")
    assert stored() == before and first.status == "imported"
    assert AuditEvent.objects.filter(verb="bank_statement.duplicate").count() == 1


def test_overlapping_statement_adds_only_the_new_entries(cases):
    import_sample("cfonb120-banque-a.txt")
    result = import_sample("cfonb120-banque-a-chevauchement.txt")
    assert result.as_json() == {
        "status": "imported",
        "format": "cfonb120",
        "account": AGENCY_IBAN,
        "entries": 8,
        "credits": 4,
        "debits": 4,
        "matched": 0,
        "to_review": 1,
        "matched_total": "0.00",
        "error": None,
    }
    assert BankEntry.objects.count() == 8 and Payment.objects.count() == 2
    statement = result.statement
    assert (statement.entry_count, statement.new_entry_count) == (8, 2)
    assert sorted(e.booked_on.day for e in statement.entries.all()) == [27, 27]
    # The two identical fees of the 26th are still two, the one of the 27th is a third.
    assert BankEntry.objects.filter(amount=Decimal("1.20")).count() == 3


def test_same_entries_in_another_file_are_a_duplicate(cases):
    import_sample("cfonb120-banque-a-chevauchement.txt")
    before = stored()
    lines = (DATA / "cfonb120-banque-a.txt").read_bytes().decode("cp1252").splitlines()
    result = statement_import(content="".join(lines).encode("utf-8"), filename="a-sans-saut.txt", actor=None)
    assert result.status == "duplicate"
    assert (
        result.error == "Tous les mouvements de ce relevé sont déjà importés : rien n'a été importé une seconde fois."
    )
    assert stored() == before


def test_third_identical_debit_of_a_day_seen_later_is_a_new_entry(cases):
    import_sample("cfonb120-banque-a.txt")
    lines = (DATA / "cfonb120-banque-a.txt").read_bytes().decode("cp1252").splitlines()
    fee = lines[9]
    closing = balance("07", "1122.90")
    content = "\r\n".join([*lines[:11], fee, *lines[11:14], closing]).encode("cp1252")
    result = statement_import(content=content, filename="a-complete.txt", actor=None)
    assert result.status == "imported" and result.statement.new_entry_count == 1
    assert sorted(BankEntry.objects.filter(amount=Decimal("1.20")).values_list("rank", flat=True)) == [1, 2, 3]


def test_reference_already_imported_for_another_amount_refuses_the_file(cases):
    import_sample("cfonb120-banque-a.txt")
    before = stored()
    content = cfonb(
        balance("01", "0", day="251126"),
        movement("46.00", "VIR", ref="VR26112600000001"),
        balance("07", "46.00"),
    )
    result = statement_import(content=content, filename="faux.txt", actor=None)
    assert result.status == "refused"
    assert result.error == (
        "Le mouvement de référence VR26112600000001 (ligne 2) a déjà été importé avec un autre montant, sens ou date "
        "(crédit de 45,00\u00a0€ le 26/11/2026, ici crédit de 46,00\u00a0€ le 26/11/2026) : vérifiez les relevés "
        "avec la banque. Rien n'a été importé."
    )
    assert stored() == before


def test_reference_repeated_in_one_file_identifies_nothing(reference):
    content = cfonb(
        balance("01", "0", day="251126"),
        movement("5.00", "VIR A", ref="REFERENCE"),
        movement("5.00", "VIR A", ref="REFERENCE"),
        balance("07", "10.00"),
    )
    result = statement_import(content=content, filename="refs.txt", actor=None)
    assert result.status == "imported"
    rows = list(BankEntry.objects.order_by("rank"))
    assert [(r.bank_ref, r.rank, r.label) for r in rows] == [
        ("", 1, "VIR A\nRéf. REFERENCE"),
        ("", 2, "VIR A\nRéf. REFERENCE"),
    ]
    again = statement_import(content=content.replace(b"\r\n", b"\n"), filename="refs-lf.txt", actor=None)
    assert again.status == "duplicate"


@pytest.mark.parametrize("name", ["camt053-001.08-autre-compte.xml", "cfonb120-autre-compte.txt"])
def test_statement_of_another_account_is_refused_whole(cases, users, name):
    result = import_sample(name, actor=users.agent)
    assert result.status == "refused"
    assert result.error.startswith("Relevé d'un autre compte (")
    assert result.error.endswith(
        "que le compte des fonds de tiers de l'agence (FR76 3000 6000 0112 3456 7890 189) : rien n'a été importé."
    )
    assert result.as_json()["account"] in {"FR7630004008200009876543274", "30004 00820 00098765432"}
    assert stored() == (0, 0, 0)
    event = AuditEvent.objects.get(verb="bank_statement.refused")
    assert event.actor == users.agent and event.after["reason"] == result.error


def test_file_with_one_statement_of_another_account_stores_nothing(cases):
    ours = (DATA / "cfonb120-banque-a.txt").read_bytes()
    theirs = (DATA / "cfonb120-autre-compte.txt").read_bytes()
    result = statement_import(content=ours + theirs, filename="deux-comptes.txt", actor=None)
    assert result.status == "refused" and "banque 30004, guichet 00820, compte 00098765432" in result.error
    assert stored() == (0, 0, 0)


def test_statement_in_dollars_is_refused_whole(cases):
    result = import_sample("camt053-001.02-usd.xml")
    assert result.as_json() == {
        "status": "refused",
        "format": "camt.053",
        "account": AGENCY_IBAN,
        "entries": 1,
        "credits": 1,
        "debits": 0,
        "matched": 0,
        "to_review": 0,
        "matched_total": "0.00",
        "error": "Relevé en USD : le compte des fonds de tiers est tenu en euros, seuls les mouvements en EUR sont "
        "importés. Rien n'a été importé.",
    }
    assert stored() == (0, 0, 0)


def test_unreadable_file_is_refused_with_its_reason(reference):
    result = statement_import(content=b"Date;Montant\n", filename="export.csv", actor=None)
    assert result.as_json()["format"] is None and result.error.startswith("Fichier non reconnu")
    assert stored() == (0, 0, 0)


def test_statement_without_movements_keeps_its_balances(reference):
    content = cfonb(balance("01", "12.00", day="251126"), balance("07", "12.00"))
    result = statement_import(content=content, filename="vide.txt", actor=None)
    assert result.status == "imported" and result.entries == 0
    assert BankStatement.objects.get().closing_balance == Decimal("12.00")


def test_reference_of_a_case_no_longer_open_goes_to_review(cases, users):
    case_transition(case=cases["CPAM-2026-00041"], to=CaseStatus.RECALLED, actor=users.agent, reason="Rappel")
    import_sample("camt053-001.02-agence.xml")
    assert entry(bank_ref="2026112300001").status == EntryStatus.TO_REVIEW


def test_reference_of_open_cases_of_two_creditors_goes_to_review(cases, reference):
    make_case(structure=reference.other_structure, reference="CPAM-2026-00041")
    import_sample("camt053-001.02-agence.xml")
    dupre = entry(bank_ref="2026112300001")
    assert (dupre.status, dupre.review_note) == (EntryStatus.TO_REVIEW, "Le libellé désigne 2 dossiers ouverts.")


def test_payment_refused_by_the_payments_leaves_the_credit_for_review(cases):
    with time_machine.travel(date(2026, 11, 22), tick=False):
        result = import_sample("camt053-001.02-agence.xml")
    assert (result.matched, result.to_review) == (0, 4)
    dupre = entry(bank_ref="2026112300001")
    assert dupre.review_note == "Dossier CPAM-2026-00041 : La date d'encaissement (23/11/2026) est dans le futur."
    assert Payment.objects.count() == 0


def test_creditor_staff_may_not_import(cases, users):
    with pytest.raises(ApplicationError, match="Seule l'agence importe les relevés bancaires"):
        import_sample("camt053-001.02-agence.xml", actor=users.creditor_admin)
    assert stored() == (0, 0, 0)


def test_matching_asks_the_cases_in_a_few_queries_whatever_their_number(cases, django_assert_max_num_queries):
    content = cfonb(
        balance("01", "0", day="251126"),
        *[movement("1.00", f"VIR DOSSIER X-{n:05d} Y{n}", ref=f"R{n}") for n in range(300)],
        balance("07", "300.00"),
    )
    with django_assert_max_num_queries(40):
        result = statement_import(content=content, filename="masse.txt", actor=None)
    assert (result.status, result.to_review) == ("imported", 300)
