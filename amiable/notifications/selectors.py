"""Reads of notifications and of who should receive them."""

from django.db.models import QuerySet

from amiable.accounts.models import AGENCY_ROLES, Role, User
from amiable.notifications.models import Notification


def notification_list(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-pk")


def unread_count(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def creditor_staff(*, creditor_id: int, structure_id: int | None = None, deciders_only: bool = False) -> list[User]:
    """Active staff of a creditor who can see a structure (those limited to other structures are left out)."""
    qs = User.objects.filter(creditor_id=creditor_id, is_active=True).prefetch_related("structures")
    if deciders_only:
        qs = qs.filter(role__in=[Role.CREDITOR_APPROVER, Role.CREDITOR_ADMIN])
    users = []
    for user in qs.order_by("pk"):
        limits = [s.pk for s in user.structures.all()]
        if structure_id is None or not limits or structure_id in limits:
            users.append(user)
    return users


def agency_contacts(*, case) -> list[User]:
    """The case's agent and the creditor's référent: the agency people a creditor's message is for."""
    people = [case.assigned_agent, case.creditor.referent]
    return [u for u in people if u is not None and u.is_active and u.role in AGENCY_ROLES]
