"""What each role's home page shows."""

from django.db.models import Count, Q, Sum

from amiable.accounts.models import Role, User
from amiable.cases.models import OPEN_STATUSES, Case
from amiable.cases.selectors import case_list, case_totals
from amiable.creditors.models import Creditor, Structure
from amiable.portal.selectors import awaiting_me, unread_comment_cases


def _structure_summary(user) -> list[dict]:
    return list(
        Structure.objects.visible_to(user)
        .annotate(
            open_count=Count("cases", filter=Q(cases__status__in=OPEN_STATUSES)),
            open_amount=Sum("cases__claimed_amount", filter=Q(cases__status__in=OPEN_STATUSES)),
        )
        .select_related("creditor")
        .order_by("creditor__name", "code", "pk")
    )


def home_for(*, user) -> dict:
    """The template and data of the user's home page, by role, with « ce qui m'attend »."""
    context = _home_for(user=user)
    if user.is_agency or user.is_creditor_user:
        context["awaiting"] = awaiting_me(user=user)
        context["unread_cases"] = unread_comment_cases(user=user)
    return context


def _home_for(*, user) -> dict:
    totals = case_totals(user=user)
    if user.is_creditor_user:
        return {
            "template": "web/home_creditor.html",
            "totals": totals,
            "structures": _structure_summary(user),
            "recent": case_list(user=user)[:10],
        }
    if user.role == Role.AGENT:
        mine = case_list(user=user, agent_id=user.pk).filter(status__in=OPEN_STATUSES)
        return {
            "template": "web/home_agent.html",
            "totals": totals,
            "my_open_count": mine.count(),
            "my_cases": mine[:15],
        }
    if user.role in {Role.SUPERVISOR, Role.AGENCY_ADMIN}:
        agents = (
            User.objects.filter(role=Role.AGENT, is_active=True)
            .annotate(open_count=Count("assigned_cases", filter=Q(assigned_cases__status__in=OPEN_STATUSES)))
            .order_by("last_name", "first_name", "pk")
        )
        creditors = (
            Creditor.objects.visible_to(user)
            .annotate(
                open_count=Count("cases", filter=Q(cases__status__in=OPEN_STATUSES)),
                open_amount=Sum("cases__claimed_amount", filter=Q(cases__status__in=OPEN_STATUSES)),
            )
            .select_related("referent")
            .order_by("name", "pk")
        )
        unassigned = Case.objects.open().filter(assigned_agent__isnull=True).count()
        return {
            "template": "web/home_supervisor.html",
            "totals": totals,
            "agents": agents,
            "creditors": creditors,
            "unassigned": unassigned,
            "referent_of": list(user.referent_of.all().order_by("name", "pk")),
        }
    return {"template": "web/home_none.html", "totals": totals}
