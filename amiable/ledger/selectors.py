"""Reading the client-funds ledger: balances at any date, per account and per creditor and structure."""

from datetime import date
from decimal import Decimal

from django.db.models import Sum

from amiable.core.money import ZERO, to_money
from amiable.ledger.models import LedgerAccount, LedgerEntry, LedgerLine

HALF_CENT = Decimal("0.005")


def ledger_balance(*, account: str, at: date | None = None, creditor_id=None, structure_id=None) -> Decimal:
    """The balance of one account at the end of `at` (today's when None), as the holder reads it: the bank
    account is an asset (debits count), the others are what is owed (credits count)."""
    lines = LedgerLine.objects.filter(account=account)
    if at is not None:
        lines = lines.filter(posted_on__lte=at)
    if creditor_id is not None:
        lines = lines.filter(creditor_id=creditor_id)
    if structure_id is not None:
        lines = lines.filter(structure_id=structure_id)
    total = to_money(lines.aggregate(total=Sum("amount"))["total"] or ZERO)
    return total if account == LedgerAccount.BANK else -total + ZERO


def ledger_held_per_structure(*, at: date | None = None) -> list[dict]:
    """What is held for each creditor's structure at the end of `at`: one row per structure with money
    held (creditor, structure, amount), in a total order."""
    lines = LedgerLine.objects.filter(account=LedgerAccount.CREDITOR_FUNDS)
    if at is not None:
        lines = lines.filter(posted_on__lte=at)
    rows = (
        lines.values("creditor_id", "creditor__name", "structure_id", "structure__code", "structure__name")
        .annotate(total=Sum("amount"))
        .order_by("creditor__name", "structure__code", "structure_id")
    )
    # to_money: SQLite sums decimals as floats, a grouped sum may come back as 1E-18 instead of 0.00.
    rows = [{**row, "held": -to_money(row["total"]) + ZERO} for row in rows]
    return [row for row in rows if row["held"]]


def ledger_entries(*, start: date | None = None, end: date | None = None):
    """The journal's entries between two dates, with their lines, in posting order."""
    entries = LedgerEntry.objects.prefetch_related("lines")
    if start is not None:
        entries = entries.filter(posted_on__gte=start)
    if end is not None:
        entries = entries.filter(posted_on__lte=end)
    return entries.order_by("posted_on", "pk")


def ledger_owed_per_case(*, at: date | None = None):
    """The overpayments held for debtors at the end of `at`, per case, largest first (values: case_id,
    case__reference, creditor__name, structure code, owed). It reads only the lines of the debtors' account
    through its index, so its cost follows the overpayments, not the number of cases."""
    lines = LedgerLine.objects.filter(account=LedgerAccount.DEBTOR_REFUNDS)
    if at is not None:
        lines = lines.filter(posted_on__lte=at)
    return (
        lines.values("case_id", "case__reference", "creditor__name", "case__structure__code")
        .annotate(owed=-Sum("amount"))
        # SQLite sums decimals as floats: a refunded overpayment can leave 1e-17, which is not money owed.
        .filter(owed__gte=HALF_CENT)
        .order_by("-owed", "case_id")
    )
