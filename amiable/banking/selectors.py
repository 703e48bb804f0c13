"""Reading the bank statements, the review queue and the reconciliation of the client-funds account."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from amiable.banking.hooks import Outgoing, outgoing_not_booked
from amiable.banking.models import BankEntry, BankStatement, EntryStatus
from amiable.cases.models import Case, CaseStatus
from amiable.core.money import ZERO, to_money
from amiable.creditors.models import Creditor
from amiable.ledger.models import LedgerAccount
from amiable.ledger.selectors import ledger_balance
from amiable.payments.models import Payment, PaymentMethod, PaymentSource

IN_TRANSIT_SHOWN = 50


def statement_list() -> QuerySet[BankStatement]:
    return BankStatement.objects.select_related("imported_by").order_by("-closing_on", "-pk")


def statement_get(*, pk: int) -> BankStatement:
    return BankStatement.objects.select_related("imported_by").get(pk=pk)


def statement_entries(*, statement: BankStatement) -> QuerySet[BankEntry]:
    return (
        BankEntry.objects.filter(statement=statement)
        .select_related("payment__case", "reviewed_by")
        .order_by("booked_on", "pk")
    )


def review_queue() -> QuerySet[BankEntry]:
    """The credits nobody has settled yet, oldest first."""
    return (
        BankEntry.objects.filter(status=EntryStatus.TO_REVIEW).select_related("statement").order_by("booked_on", "pk")
    )


def entry_get(*, pk: int) -> BankEntry:
    return BankEntry.objects.get(pk=pk)


def payments_in_transit() -> QuerySet[Payment]:
    """Payments recorded by hand into the agency's account that no statement has shown yet: not paid to the
    creditor directly, not reversed, not matched to a bank entry."""
    return (
        Payment.objects.filter(bank_entry__isnull=True, reversal__isnull=True)
        .exclude(method=PaymentMethod.DIRECT)
        .exclude(source=PaymentSource.BANK)
        .select_related("case")
        .order_by("collected_on", "pk")
    )


def payment_get(*, pk: int) -> Payment | None:
    return Payment.objects.select_related("case").filter(pk=pk).first()


def link_candidates(*, entries: list[BankEntry]) -> dict[int, list[Payment]]:
    """For each credit of the queue, the payments in transit of the same amount that it may be (one query)."""
    amounts = {entry.amount for entry in entries}
    by_amount: dict[Decimal, list[Payment]] = defaultdict(list)
    for payment in payments_in_transit().filter(amount__in=amounts):
        by_amount[payment.amount].append(payment)
    return {entry.pk: by_amount.get(entry.amount, []) for entry in entries}


def cases_for_reference(*, reference: str, creditor: Creditor | None = None) -> list[Case]:
    """The cases that may still receive a payment with this reference, whatever its case: the reference is
    asked as typed, in capitals and in lower case, so that the (creditor, reference) index serves it."""
    reference = reference.strip()
    if not reference:
        return []
    creditor_ids = [creditor.pk] if creditor else list(Creditor.objects.values_list("pk", flat=True))
    cases = Case.objects.filter(
        creditor_id__in=creditor_ids, reference__in={reference, reference.upper(), reference.lower()}
    ).exclude(status=CaseStatus.CLOSED)
    return [
        c
        for c in cases.select_related("creditor").order_by("creditor__name", "pk")
        if c.reference.upper() == reference.upper()
    ]


@dataclass
class Reconciliation:
    """The client-funds account as the bank sees it (the last statement's closing balance) beside the ledger
    at the same date, and what explains the difference: money on its way to the bank, or at the bank but not
    yet in the ledger."""

    statement: BankStatement | None = None
    at: date | None = None
    first: BankStatement | None = None
    bank_balance: Decimal = ZERO
    ledger_balance: Decimal = ZERO
    in_transit: list[Payment] = field(default_factory=list)
    in_transit_count: int = 0
    in_transit_total: Decimal = ZERO
    queued_count: int = 0
    queued_total: Decimal = ZERO
    dismissed_count: int = 0
    dismissed_total: Decimal = ZERO
    debits_count: int = 0
    debits_total: Decimal = ZERO
    outgoing: Outgoing = field(default_factory=Outgoing)

    @property
    def difference(self) -> Decimal:
        return self.bank_balance - self.ledger_balance

    @property
    def opening_balance(self) -> Decimal:
        """What the account held before the first statement imported: money the ledger never recorded."""
        return self.first.opening_balance if self.first else ZERO

    @property
    def in_transit_effect(self) -> Decimal:
        return -self.in_transit_total

    @property
    def debits_effect(self) -> Decimal:
        return -self.debits_total

    @property
    def explained(self) -> Decimal:
        return (
            self.opening_balance
            + self.queued_total
            + self.dismissed_total
            + self.in_transit_effect
            + self.debits_effect
            + self.outgoing.total
        )

    @property
    def unexplained(self) -> Decimal:
        return self.difference - self.explained


def _count_sum(qs) -> tuple[int, Decimal]:
    """How many rows and their total; read through to_money, as SQLite sums decimals as floats."""
    totals = qs.aggregate(count=Count("pk"), total=Sum("amount"))
    return totals["count"], to_money(totals["total"] or ZERO)


def reconciliation() -> Reconciliation:
    """The reconciliation at the closing date of the last statement imported (nothing without a statement).
    With every statement since the first one imported, nothing is left unexplained; a missing statement, or
    money recorded in the ledger before the first statement, shows as the unexplained rest."""
    statement = BankStatement.objects.order_by("-closing_on", "-pk").first()
    if statement is None:
        return Reconciliation()
    at = statement.closing_on
    entries = BankEntry.objects.filter(booked_on__lte=at)
    queued = _count_sum(entries.filter(status=EntryStatus.TO_REVIEW))
    dismissed = _count_sum(entries.filter(status=EntryStatus.IGNORED, is_credit=True))
    debits = _count_sum(entries.filter(status=EntryStatus.DEBIT))
    transit = payments_in_transit().filter(collected_on__lte=at)
    transit_count, transit_total = _count_sum(transit)
    return Reconciliation(
        statement=statement,
        at=at,
        first=BankStatement.objects.order_by("opening_on", "pk").first(),
        bank_balance=statement.closing_balance,
        ledger_balance=ledger_balance(account=LedgerAccount.BANK, at=at),
        in_transit=list(transit[:IN_TRANSIT_SHOWN]),
        in_transit_count=transit_count,
        in_transit_total=transit_total,
        queued_count=queued[0],
        queued_total=queued[1],
        dismissed_count=dismissed[0],
        dismissed_total=dismissed[1],
        debits_count=debits[0],
        debits_total=debits[1],
        outgoing=outgoing_not_booked(at),
    )
