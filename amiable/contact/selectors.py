"""Reads of the contacts with debtors."""

from datetime import date

from django.db.models import QuerySet

from amiable.cases.models import Case
from amiable.contact.models import OutboxMessage
from amiable.core.dates import add_months
from amiable.creditors.selectors import terms_for


def promise_latest_due_on(*, case: Case, day: date) -> tuple[date, int]:
    """The latest date a promise made on `day` may be for, and the contract's limit in months it comes from
    (`ContractTerms.max_plan_months`: beyond it, paying later is a payment plan the creditor must accept)."""
    months = terms_for(case.creditor_id).max_plan_months
    return add_months(day, months), months


def outbox_list() -> QuerySet[OutboxMessage]:
    """Every e-mail and SMS to debtors, the latest decided first, with its case (the agency's outbox page)."""
    return OutboxMessage.objects.select_related("case").order_by("-pk")
