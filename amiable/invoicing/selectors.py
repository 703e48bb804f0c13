"""Reading what is due to the invoices: the payments of a month that bear commission, the reversals and the
failed cases whose invoiced payments are to be credited, and the invoices of a month.

Everything is read in a few queries whatever the number of cases (lists of ids are chunked for SQLite)."""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import DecimalField, Exists, F, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import CaseStatus
from amiable.core.dates import month_bounds
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, to_money
from amiable.invoicing.models import Invoice, InvoicedItem
from amiable.payments.models import Allocation, Component, Payment, PaymentMethod

CHUNK = 500  # SQLite limits the parameters of one query
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_parse(text: str) -> date:
    """The first day of the month written `AAAA-MM`, or an ApplicationError in French."""
    match = _MONTH.fullmatch((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ApplicationError(f"Mois invalide : « {text} » (attendu AAAA-MM, par exemple 2026-10).")
    return date(int(match.group(1)), int(match.group(2)), 1)


def last_complete_month(today: date) -> date:
    """The first day of the month before the one holding `today`."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_checked(month: date | None, *, today: date) -> tuple[date, date]:
    """The first and last day of `month` (by default the last complete one), refused while it is not over."""
    start, end = month_bounds(month or last_complete_month(today))
    if end >= today:
        raise ApplicationError(
            f"Le mois {start:%m/%Y} n'est pas terminé : ses commissions se facturent à partir du "
            f"{end + timedelta(days=1):%d/%m/%Y}."
        )
    return start, end


@dataclass(frozen=True)
class Item:
    """One payment to invoice, or one invoiced payment to credit (then with the invoice and rates it bore)."""

    payment_id: int
    case_id: int
    reference: str
    creditor_id: int
    structure_id: int
    base: Decimal
    invoice_id: int | None = None
    commission_rate: Decimal | None = None
    vat_rate: Decimal | None = None
    # For a credit: the invoice line that carried the payment, its base and commission, and the base of its
    # payments already credited, so that credits never take back more than the line's commission.
    line_id: int | None = None
    line_base: Decimal = ZERO
    line_commission: Decimal = ZERO
    line_credited_before: Decimal = ZERO


@dataclass
class Pending:
    """What a run of the month has to do, per (creditor, structure): payments to invoice and to credit."""

    invoice: dict[tuple[int, int], list[Item]]
    credit: dict[tuple[int, int], list[Item]]

    def keys(self) -> list[tuple[int, int]]:
        return sorted(set(self.invoice) | set(self.credit))


def _chunks(values: list) -> list[list]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _local(moment: datetime | None) -> date | None:
    return timezone.localdate(moment) if moment is not None else None


def failed_cases(cases: dict[int, tuple[str, datetime | None]]) -> dict[int, date]:
    """The cases closed without recovery (C24) among `cases` (id -> (status, status_changed_at)), with the
    day they failed: « Irrécouvrable » now, or closed after having been declared so (the audit trail of
    the status keeps it). A case declared irrecoverable before the software dated its status changes
    failed on `date.min`."""
    failed = {
        pk: _local(changed_at) or date.min
        for pk, (status, changed_at) in cases.items()
        if status == CaseStatus.IRRECOVERABLE
    }
    closed = sorted(pk for pk, (status, _) in cases.items() if status == CaseStatus.CLOSED)
    for chunk in _chunks(closed):
        events = _declarations_kept().filter(case_pk__in=chunk).values_list("case_pk", "at").order_by("case_pk", "at")
        for case_pk, at in events:
            failed[case_pk] = timezone.localdate(at)
    return failed


def _declarations_kept():
    """The moves to « Irrécouvrable » that no reopening followed: a case reopened, then paid and closed, did
    not fail, and its commission is due."""
    reopened = AuditEvent.objects.filter(
        verb="case.status_changed",
        case_pk=OuterRef("case_pk"),
        at__gt=OuterRef("at"),
        after__status__in=sorted(s.value for s in CaseStatus.OPEN),
    )
    return AuditEvent.objects.filter(verb="case.status_changed", after__status=CaseStatus.IRRECOVERABLE.value).exclude(
        Exists(reopened)
    )


def _overpaid(payment_ids: list[int]) -> dict[int, Decimal]:
    """The part of each payment allocated beyond the claim: held for the debtor, never recovered."""
    over: dict[int, Decimal] = {}
    for chunk in _chunks(payment_ids):
        rows = (
            Allocation.objects.filter(payment_id__in=chunk, component=Component.OVERPAYMENT)
            .values("payment_id")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        over.update({row["payment_id"]: to_money(row["total"]) for row in rows})
    return over


def _failed(prefix: str) -> Q:
    """The cases that failed (C24), in SQL: « Irrécouvrable », or closed after having been declared so."""
    declared = _declarations_kept()
    return Q(**{f"{prefix}status": CaseStatus.IRRECOVERABLE}) | Q(
        **{f"{prefix}status": CaseStatus.CLOSED, f"{prefix}pk__in": declared.values("case_pk")}
    )


def _not_invoiced(end: date):
    """The payments collected up to `end`, not yet invoiced and not reversed by then, whose case did not fail
    and that the contract does not leave out (direct payments): those that may still bear commission."""
    return (
        Payment.objects.filter(collected_on__lte=end)
        # NOT EXISTS, an anti-join: PostgreSQL runs `NOT IN (subquery)` as a scan of the subquery per payment
        # once the invoiced items outgrow its memory for hashing (a quarter of an hour at 300,000 payments).
        .exclude(Exists(InvoicedItem.objects.filter(payment_id=OuterRef("pk"), is_credit=False)))
        .exclude(reversal__reversed_on__lte=end)
        .exclude(_failed("case__"))
        .exclude(method=PaymentMethod.DIRECT, case__creditor__terms__direct_payments_bear_commission=False)
    )


def _to_invoice(end: date) -> dict[tuple[int, int], list[Item]]:
    """The payments collected up to `end`, not yet invoiced and not reversed by then, that bear commission.
    What never will (failed cases, direct payments the contract leaves out) is left out in SQL, so that the
    payments never invoiced are not read again every month."""
    rows = list(
        _not_invoiced(end)
        .values(
            "pk",
            "case_id",
            "amount",
            "collected_on",
            "case__reference",
            "case__creditor_id",
            "case__structure_id",
            "case__recalled_at",
        )
        .order_by("pk")
    )
    kept = []
    for row in rows:
        recalled_on = _local(row["case__recalled_at"])
        if recalled_on is not None and row["collected_on"] > recalled_on:
            continue  # C13: after a recall, only what was recovered on or before its day bears commission
        kept.append(row)
    over = _overpaid([row["pk"] for row in kept])
    due: dict[tuple[int, int], list[Item]] = {}
    for row in kept:
        base = to_money(row["amount"]) - over.get(row["pk"], ZERO)
        if base <= ZERO:
            continue  # wholly an overpayment: nothing recovered for the creditor
        key = (row["case__creditor_id"], row["case__structure_id"])
        due.setdefault(key, []).append(
            Item(
                payment_id=row["pk"],
                case_id=row["case_id"],
                reference=row["case__reference"],
                creditor_id=key[0],
                structure_id=key[1],
                base=base,
            )
        )
    return due


def _to_credit(end: date) -> dict[tuple[int, int], list[Item]]:
    """The invoiced payments not yet credited that were reversed by `end`, or whose case failed by then:
    each is credited for what it was invoiced, at the rates of its invoice."""
    rows = list(
        InvoicedItem.objects.filter(is_credit=False)
        .filter(Q(payment__reversal__reversed_on__lte=end) | _failed("line__case__"))
        .exclude(payment_id__in=InvoicedItem.objects.filter(is_credit=True).values("payment_id"))
        .values(
            "payment_id",
            "base",
            "line__case_id",
            "line__case__reference",
            "line__case__status",
            "line__case__status_changed_at",
            "line__invoice_id",
            "line_id",
            "line__base",
            "line__commission",
            "line__invoice__creditor_id",
            "line__invoice__structure_id",
            "line__invoice__commission_rate",
            "line__invoice__vat_rate",
            "payment__reversal__reversed_on",
        )
        .order_by("line__invoice_id", "payment_id")
    )
    failed = failed_cases(
        {row["line__case_id"]: (row["line__case__status"], row["line__case__status_changed_at"]) for row in rows}
    )
    credited_before = _credited_per_line(sorted({row["line_id"] for row in rows}))
    due: dict[tuple[int, int], list[Item]] = {}
    for row in rows:
        reversed_on = row["payment__reversal__reversed_on"]
        failed_on = failed.get(row["line__case_id"])
        if not ((reversed_on is not None and reversed_on <= end) or (failed_on is not None and failed_on <= end)):
            continue
        key = (row["line__invoice__creditor_id"], row["line__invoice__structure_id"])
        due.setdefault(key, []).append(
            Item(
                payment_id=row["payment_id"],
                case_id=row["line__case_id"],
                reference=row["line__case__reference"],
                creditor_id=key[0],
                structure_id=key[1],
                base=to_money(row["base"]),
                invoice_id=row["line__invoice_id"],
                commission_rate=row["line__invoice__commission_rate"],
                vat_rate=row["line__invoice__vat_rate"],
                line_id=row["line_id"],
                line_base=to_money(row["line__base"]),
                line_commission=to_money(row["line__commission"]),
                line_credited_before=credited_before.get(row["line_id"], ZERO),
            )
        )
    return due


def _credited_per_line(line_ids: list[int]) -> dict[int, Decimal]:
    """Per invoice line, the base of its payments already taken back by a credit note."""
    credited: dict[int, Decimal] = {}
    already = InvoicedItem.objects.filter(is_credit=True).values("payment_id")
    for chunk in _chunks(line_ids):
        rows = (
            InvoicedItem.objects.filter(is_credit=False, line_id__in=chunk, payment_id__in=already)
            .values("line_id")
            .annotate(total=Sum("base"))
            .order_by("line_id")
        )
        credited.update({row["line_id"]: to_money(row["total"]) for row in rows})
    return credited


def invoice_pending_oldest(*, end: date, creditor_ids=None) -> dict[tuple[int, int], date]:
    """Per (creditor, structure), the collection date of the oldest payment that `invoice_pending(end=end)`
    would list to invoice, in one grouped query: the deadline of the month's invoices needs that date only,
    not every payment (a million cases hold hundreds of thousands). The rules of `_to_invoice` in SQL: after
    a recall only what was recovered on or before its day (Paris date) bears commission, and a payment
    wholly an overpayment bears none. `creditor_ids` limits the read to those creditors (None: all)."""
    overpaid = (
        Allocation.objects.filter(payment_id=OuterRef("pk"), component=Component.OVERPAYMENT)
        .values("payment_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    payments = _not_invoiced(end).filter(
        Q(case__recalled_at__isnull=True) | Q(collected_on__lte=TruncDate("case__recalled_at"))
    )
    if creditor_ids is not None:
        payments = payments.filter(case__creditor_id__in=creditor_ids)
    # The overpayment summed per payment, by index, on the payments left after the scan's filters: measured
    # faster on PostgreSQL (1.0 s against 5.4 s at 100,000 cases) than `NOT EXISTS (overpayment) OR amount >
    # its sum`, which the planner cannot turn into an anti-join.
    rows = (
        payments.annotate(over=Coalesce(Subquery(overpaid), Value(ZERO), output_field=DecimalField()))
        .filter(amount__gt=F("over"))
        .values("case__creditor_id", "case__structure_id")
        .annotate(oldest=Min("collected_on"))
        .order_by()
    )
    return {(row["case__creditor_id"], row["case__structure_id"]): row["oldest"] for row in rows}


def invoice_pending(*, end: date) -> Pending:
    """Everything a run for the month ending `end` has to invoice or credit, per (creditor, structure)."""
    return Pending(invoice=_to_invoice(end), credit=_to_credit(end))


def invoices_of_month(start: date):
    """The invoices and credit notes of the month starting `start`, in the order the run prints them."""
    return (
        Invoice.objects.filter(period_start=start)
        .select_related("creditor", "structure")
        .order_by("creditor__slug", "structure__code", "kind", "pk")
    )


def invoices_incomplete():
    """Invoices whose Factur-X file is missing, or not yet e-mailed (nor paid): what `invoices_complete` finishes."""
    return (
        Invoice.objects.filter(Q(pdf="") | Q(status="prepared", emailed_at__isnull=True))
        .select_related("creditor", "structure", "credited")
        .order_by("pk")
    )


def invoice_recipient(invoice: Invoice) -> str:
    """Who receives the invoice: the structure's finance service, else the creditor's contact; empty when
    neither is known (the invoice then waits in the creditor's portal)."""
    return invoice.structure.finance_email or invoice.creditor.contact_email
