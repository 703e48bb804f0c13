"""Reading the money of a case: payments with their reversals, refunds, receipts, plans."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from amiable.cases.models import Case
from amiable.core.money import to_money
from amiable.payments.models import Allocation, Payment, Plan, PlanStatus, Receipt, Refund


@dataclass
class CaseMoney:
    """What the case page shows of the money: each list in a total order."""

    payments: list[Payment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)

    @property
    def running_plan(self) -> Plan | None:
        return next((p for p in self.plans if p.status in (PlanStatus.ACTIVE, PlanStatus.AWAITING_APPROVAL)), None)


def case_money(*, case: Case) -> CaseMoney:
    """The payments (with their reversal), refunds, receipts and plans of a case: four queries whatever their
    number. The caller has already checked that the person may see the case."""
    return CaseMoney(
        payments=list(
            Payment.objects.filter(case=case)
            .select_related("reversal__recorded_by", "recorded_by")
            .order_by("collected_on", "pk")
        ),
        refunds=list(Refund.objects.filter(case=case).select_related("recorded_by").order_by("refunded_on", "pk")),
        receipts=list(Receipt.objects.filter(case=case).select_related("cancels").order_by("issued_at", "pk")),
        plans=list(Plan.objects.filter(case=case).prefetch_related("instalments").order_by("-proposed_at", "-pk")),
    )


def paid_by_component(case: Case) -> dict[str, Decimal]:
    """What was paid of each component of the claim (and the overpayment), net of reversals and refunds: the
    letters show it (registered in `letters.amounts`). One query."""
    rows = Allocation.objects.filter(case=case).values("component").annotate(total=Sum("amount")).order_by()
    # to_money: SQLite sums decimals as floats, a grouped sum may come back as 1E-18 instead of 0.00.
    return {row["component"]: to_money(row["total"]) for row in rows}


def receipt_get(*, user, pk: int) -> Receipt:
    """One receipt (or cancellation) of a case the user may see — agency staff, or the case's creditor staff
    within their structures — or Receipt.DoesNotExist (the view turns it into a 404)."""
    return Receipt.objects.visible_to(user).select_related("case").get(pk=pk)
