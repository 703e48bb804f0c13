"""Reads of the contacts with debtors."""

from django.db.models import QuerySet

from amiable.contact.models import OutboxMessage


def outbox_list() -> QuerySet[OutboxMessage]:
    """Every e-mail and SMS to debtors, the latest decided first, with its case (the agency's outbox page)."""
    return OutboxMessage.objects.select_related("case").order_by("-pk")
