"""Reading the invoices for the pages: who sees which (`visible_to` by the invoice's creditor and structure,
as cases are scoped), and lists that cost the same number of queries whatever their length."""

from datetime import date

from django.db.models import Count, QuerySet

from amiable.core.scoping import scope_to_user
from amiable.invoicing.models import Invoice, InvoiceLine


def invoices_visible_to(user) -> QuerySet:
    """Agency staff see every invoice; creditor staff their creditor's, and only their structures' when
    limited to some (the same rule as their cases)."""
    return scope_to_user(Invoice.objects.all(), user, creditor_field="creditor_id", structure_field="structure_id")


def invoice_list(
    *,
    user,
    creditor_id: int | None = None,
    structure_id: int | None = None,
    kind: str = "",
    status: str = "",
    month: date | None = None,
) -> QuerySet:
    """The invoices and credit notes the person may see, the latest month first, with their line count.
    `month` is the first day of the month invoiced."""
    qs = invoices_visible_to(user)
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    if structure_id:
        qs = qs.filter(structure_id=structure_id)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if month:
        qs = qs.filter(period_start__year=month.year, period_start__month=month.month)
    return (
        qs.select_related("creditor", "structure", "credited")
        .annotate(line_count=Count("lines"))
        .order_by("-period_start", "creditor__name", "structure__code", "kind", "-pk")
    )


def invoice_get(*, user, pk: int) -> Invoice:
    """One invoice the person may see; `Invoice.DoesNotExist` otherwise (the pages answer 404)."""
    return invoices_visible_to(user).select_related("creditor", "structure", "credited").get(pk=pk)


def invoice_lines(*, invoice: Invoice) -> QuerySet:
    """The lines of an invoice, each with its case and debtor, in one query."""
    return InvoiceLine.objects.filter(invoice=invoice).select_related("case__debtor").order_by("pk")


def invoice_credit_notes(*, invoice: Invoice) -> QuerySet:
    """The credit notes that correct an invoice."""
    return Invoice.objects.filter(credited=invoice).order_by("period_start", "pk")
