"""Reading what is due to the structures: the pending payments and reversals with what the ledger moved on
each structure's funds for them."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from amiable.core.money import ZERO, to_money
from amiable.creditors.models import Creditor
from amiable.ledger.models import EntryKind, LedgerAccount, LedgerEntry, LedgerLine
from amiable.payments.models import Payment, PaymentMethod, PaymentReversal
from amiable.payments.statement import RemittedLine
from amiable.remittances.models import RemittanceLine


def week_before(week_of: date) -> tuple[date, date]:
    """The Monday and Sunday of the complete week before the one holding `week_of`."""
    monday = week_of - timedelta(days=week_of.weekday()) - timedelta(days=7)
    return monday, monday + timedelta(days=6)


def creditors_due(today: date) -> set[int]:
    """The active creditors whose remittance weekday (contract terms, Monday when none) has come this week:
    the daily run remits their last complete week from that day on, so a day missed is caught up the next
    day, and the days after find it made."""
    terms = dict(Creditor.objects.filter(is_active=True).values_list("pk", "terms__remittance_weekday").order_by("pk"))
    return {pk for pk, weekday in terms.items() if (weekday or 0) <= today.weekday()}


CHUNK = 500  # SQLite limits the parameters of one query


@dataclass(frozen=True)
class Due:
    """One payment to remit (positive) or one reversal to take back (negative)."""

    creditor_id: int
    structure_id: int
    amount: Decimal
    payment_id: int | None = None
    reversal_id: int | None = None


def remittance_pending(*, until) -> dict[tuple[int, int], list[Due]]:
    """Everything not yet remitted up to the end of `until`, per (creditor, structure): the payments
    collected by the agency (a direct payment never went through the client-funds account) and the
    reversals. Each amount is what the ledger held for the structure for it — the part
    of a payment that overpaid the claim is held for the debtor and is never remitted. Items worth nothing
    to the structure are left out."""
    payments = list(
        Payment.objects.filter(collected_on__lte=until, remittance_line__isnull=True)
        .exclude(method=PaymentMethod.DIRECT)
        .values_list("pk", flat=True)
    )
    # Reversals of direct payments too: most move nothing, but one that takes back an overpayment turns
    # money held for the debtor in the client-funds account into the creditor's, to remit.
    reversals = list(
        PaymentReversal.objects.filter(reversed_on__lte=until, remittance_line__isnull=True).values_list(
            "pk", flat=True
        )
    )
    sources = {f"payment:{pk}": ("payment_id", pk) for pk in payments}
    sources.update({f"reversal:{pk}": ("reversal_id", pk) for pk in reversals})
    keys = sorted(sources)
    due: dict[tuple[int, int], list[Due]] = {}
    for i in range(0, len(keys), CHUNK):
        # The entries first, by their unique (kind, source) index, then their lines by entry.
        entries = dict(
            LedgerEntry.objects.filter(
                kind__in=[EntryKind.PAYMENT, EntryKind.REVERSAL], source__in=keys[i : i + CHUNK]
            ).values_list("pk", "source")
        )
        # By entry only, the account kept below: with the account in the query, SQLite prefers the
        # (account, date) index and reads every line of the account for each chunk.
        rows = (
            LedgerLine.objects.filter(entry_id__in=list(entries))
            .values("entry_id", "account", "creditor_id", "structure_id")
            .annotate(total=Sum("amount"))
            .order_by("entry_id", "account", "creditor_id", "structure_id")
        )
        for row in rows:
            if row["account"] != LedgerAccount.CREDITOR_FUNDS:
                continue
            # A credit on the structure's funds is money held for it: remitted as a positive amount.
            amount = -to_money(row["total"]) + ZERO
            if amount == ZERO or row["structure_id"] is None:
                continue
            field, pk = sources[entries[row["entry_id"]]]
            item = Due(creditor_id=row["creditor_id"], structure_id=row["structure_id"], amount=amount, **{field: pk})
            due.setdefault((row["creditor_id"], row["structure_id"]), []).append(item)
    for items in due.values():
        items.sort(key=lambda d: (d.payment_id is None, d.payment_id or 0, d.reversal_id or 0))
    return due


def remitted_lines_of_case(case):
    """What was remitted of one case, for its financial statement: one line per payment remitted or
    reversal taken back, in one query."""
    lines = (
        RemittanceLine.objects.filter(Q(payment__case=case) | Q(reversal__case=case))
        .select_related("remittance")
        .order_by("remittance__period_start", "remittance_id", "pk")
    )
    return [
        RemittedLine(
            remitted_on=timezone.localdate(line.remittance.created_at),
            reference=line.remittance.number,
            amount=line.amount,
        )
        for line in lines
    ]
