"""Payment plans (C16, C37): proposal, grant or creditor approval, matching of payments to instalments."""

from amiable.cases.models import Case
from amiable.payments.models import Payment, Plan, PlanStatus


def plan_running(case: Case) -> Plan | None:
    """The active plan of a case, if any."""
    return Plan.objects.filter(case=case, status=PlanStatus.ACTIVE).first()


def plan_apply_payment(*, plan: Plan, payment: Payment, actor) -> None:
    """Fill the plan's instalments with a payment; called inside the payment's transaction."""


def plan_apply_reversal(*, plan: Plan, payment: Payment, actor) -> None:
    """Take a reversed payment back from the instalments it had filled."""
