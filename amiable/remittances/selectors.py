"""Reading what is due to the structures: the pending payments and reversals with what the ledger moved on
each structure's funds for them."""

import decimal
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Q
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


@dataclass(frozen=True)
class Due:
    """One payment to remit (positive) or one reversal to take back (negative)."""

    creditor_id: int
    structure_id: int
    amount: Decimal
    payment_id: int | None = None
    reversal_id: int | None = None


# What the ledger held on each structure's funds for each pending payment or reversal: its entry is found by
# its unique (kind, source) key, « payment:<pk> » or « reversal:<pk> », built in SQL, and its lines summed per
# creditor and structure. One query per kind of movement, whatever their number: a week of 100,000 payments
# is read in one pass instead of 200 chunks of 500 keys.
_PENDING_SQL = """
SELECT l.creditor_id, l.structure_id, m.id, SUM(l.amount)
FROM {movement} m
JOIN {entry} e ON e.kind IN (%s, %s) AND e.source = %s || m.id
JOIN {line} l ON l.entry_id = e.id
WHERE m.{day} <= %s {extra}
  AND NOT EXISTS (SELECT 1 FROM {remitted} r WHERE r.{link} = m.id)
  AND {unindexed}l.account = %s AND {unindexed}l.structure_id IS NOT NULL
GROUP BY l.creditor_id, l.structure_id, m.id
"""


_FLOAT_SUM = decimal.Context(prec=15)


def _pending_rows(model, **kwargs):
    with connection.cursor() as cursor:
        cursor.execute(*pending_query(model, **kwargs))
        return cursor.fetchall()


def pending_query(model, *, day: str, link: str, prefix: str, until, extra: str = "", extra_params=()):
    """The SQL and parameters of `_PENDING_SQL` for one kind of movement (its plan is tested)."""
    quote = connection.ops.quote_name
    sql = _PENDING_SQL.format(
        movement=quote(model._meta.db_table),
        entry=quote(LedgerEntry._meta.db_table),
        line=quote(LedgerLine._meta.db_table),
        remitted=quote(RemittanceLine._meta.db_table),
        day=quote(day),
        link=quote(link),
        extra=extra,
        # SQLite, without statistics, would read the lines through the (account, structure) index, every
        # creditor-funds line for each entry: quadratic (20,000 payments took 300 s). A unary plus keeps those
        # two terms off any index, so the lines are found by their entry.
        unindexed="+" if connection.vendor == "sqlite" else "",
    )
    return sql, [EntryKind.PAYMENT, EntryKind.REVERSAL, prefix, until, *extra_params, LedgerAccount.CREDITOR_FUNDS]


PENDING_PAYMENTS = {
    "day": "collected_on",
    "link": "payment_id",
    "prefix": "payment:",
    # The remitted mark narrows the read to the payments not remitted yet (partial index), not every payment.
    "extra": "AND m.method <> %s AND m.remitted = %s",
    "extra_params": [PaymentMethod.DIRECT, False],
}
PENDING_REVERSALS = {"day": "reversed_on", "link": "reversal_id", "prefix": "reversal:"}


def remittance_pending(*, until) -> dict[tuple[int, int], list[Due]]:
    """Everything not yet remitted up to the end of `until`, per (creditor, structure): the payments
    collected by the agency (a direct payment never went through the client-funds account) and the
    reversals. Each amount is what the ledger held for the structure for it — the part
    of a payment that overpaid the claim is held for the debtor and is never remitted. Items worth nothing
    to the structure are left out. Two queries (payments, reversals), whatever their number."""
    due: dict[tuple[int, int], list[Due]] = {}
    payments = _pending_rows(Payment, until=until, **PENDING_PAYMENTS)
    # Reversals of direct payments too: most move nothing, but one that takes back an overpayment turns
    # money held for the debtor in the client-funds account into the creditor's, to remit.
    reversals = _pending_rows(PaymentReversal, until=until, **PENDING_REVERSALS)
    for field, rows in (("payment_id", payments), ("reversal_id", reversals)):
        for creditor_id, structure_id, pk, total in rows:
            # A credit on the structure's funds is money held for it: remitted as a positive amount.
            if isinstance(total, float):  # SQLite sums decimals in floating point: read as Django reads a Sum
                total = _FLOAT_SUM.create_decimal_from_float(total)
            amount = -to_money(total) + ZERO
            if amount == ZERO:
                continue
            item = Due(creditor_id=creditor_id, structure_id=structure_id, amount=amount, **{field: pk})
            due.setdefault((creditor_id, structure_id), []).append(item)
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
