"""Reading the remittances for the pages, the agency's and the creditor's: one gate (`visible_to` by the
remittance's creditor and structure, as cases are scoped) and lists that cost the same number of queries
whatever their length."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, QuerySet

from amiable.core.scoping import scope_to_user
from amiable.remittances.models import Remittance, RemittanceLine

# The stored files of a remittance, by the name used in its URLs: (field, label, extension, content type).
FILES = {
    "pdf": ("statement_pdf", "Relevé (PDF)", "pdf", "application/pdf"),
    "xlsx": (
        "statement_xlsx",
        "Relevé (Excel)",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "csv": ("statement_csv", "Relevé (CSV)", "csv", "text/csv; charset=utf-8"),
    "sepa": ("transfer_xml", "Virement SEPA (XML)", "xml", "application/xml"),
}
# What a creditor's staff may download: the statement, never the agency's transfer order.
CREDITOR_FILES = ("pdf", "xlsx", "csv")


def remittances_visible_to(user) -> QuerySet:
    """Agency staff see every remittance; creditor staff their creditor's, and only their structures' when
    limited to some (the same rule as their cases)."""
    return scope_to_user(Remittance.objects.all(), user, creditor_field="creditor_id", structure_field="structure_id")


def remittance_list(
    *,
    user,
    creditor_id: int | None = None,
    structure_id: int | None = None,
    status: str = "",
    start: date | None = None,
    end: date | None = None,
) -> QuerySet:
    """The remittances the person may see, the latest week first, with their line count (one query for a
    page, whatever its length). `start`/`end` keep the weeks that begin within those dates."""
    qs = remittances_visible_to(user)
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    if structure_id:
        qs = qs.filter(structure_id=structure_id)
    if status:
        qs = qs.filter(status=status)
    if start:
        qs = qs.filter(period_end__gte=start)
    if end:
        qs = qs.filter(period_start__lte=end)
    return (
        qs.select_related("creditor", "structure")
        .annotate(line_count=Count("lines"))
        .order_by("-period_start", "creditor__name", "structure__code", "-pk")
    )


def remittance_get(*, user, pk: int) -> Remittance:
    """One remittance the person may see; `Remittance.DoesNotExist` otherwise (the pages answer 404)."""
    return remittances_visible_to(user).select_related("creditor", "structure", "executed_by").get(pk=pk)


@dataclass(frozen=True)
class LineRow:
    """One line of a remittance as its pages show it: whose case, which one, how much, and when."""

    case_id: int
    reference: str
    debtor: str
    amount: Decimal
    on: date
    is_reversal: bool


def remittance_lines(*, remittance: Remittance) -> list[LineRow]:
    """The lines of a remittance in their order, each with its case and debtor, in one query."""
    lines = RemittanceLine.objects.filter(remittance=remittance).select_related(
        "payment__case__debtor", "reversal__case__debtor"
    )
    rows = []
    for line in lines.order_by("pk"):
        source = line.payment or line.reversal
        rows.append(
            LineRow(
                case_id=source.case_id,
                reference=source.case.reference,
                debtor=source.case.debtor.display_name,
                amount=line.amount,
                on=line.payment.collected_on if line.payment else line.reversal.reversed_on,
                is_reversal=line.payment is None,
            )
        )
    return rows


def remittance_files(*, remittance: Remittance, kinds=tuple(FILES)) -> list[dict]:
    """The files of a remittance that are stored, among `kinds`, for the download links."""
    return [
        {"kind": kind, "label": FILES[kind][1], "sha256": getattr(remittance, _sha_field(FILES[kind][0]))}
        for kind in kinds
        if getattr(remittance, FILES[kind][0])
    ]


def _sha_field(field: str) -> str:
    return "transfer_sha256" if field == "transfer_xml" else f"{field}_sha256"
