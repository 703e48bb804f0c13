"""What each role's home page shows."""

from amiable.accounts.models import Role, User
from amiable.cases.models import OPEN_STATUSES
from amiable.cases.selectors import EMPTY_FIGURES, case_list, case_totals, counter_figures, counter_total
from amiable.creditors.models import Creditor, Structure
from amiable.portal.selectors import awaiting_me, unread_comment_cases
from amiable.remittances.alerts import remittances_overdue
from amiable.reporting.dashboards import dashboard_for


def _with_figures(rows: list, figures: dict) -> list:
    """Each creditor or structure with its open cases and what remains due on them, and what was recovered and
    claimed over all its cases (the rate is recovered ÷ claimed), from the counters read once for all."""
    for row in rows:
        row_figures = figures.get(row.pk, EMPTY_FIGURES)
        row.open_count = row_figures["open_count"]
        row.open_amount = row_figures["open_balance"]
        row.claimed_amount = row_figures["claimed"]
        row.recovered_amount = row_figures["recovered"]
        row.recovery_rate = row_figures["rate"]
    return rows


def _structure_summary(user) -> list:
    structures = list(
        Structure.objects.visible_to(user).select_related("creditor").order_by("creditor__name", "code", "pk")
    )
    return _with_figures(structures, counter_figures(user=user, by="structure_id"))


def home_for(*, user) -> dict:
    """The template and data of the user's home page, by role, with « ce qui m'attend »."""
    context = _home_for(user=user)
    if user.is_agency or user.is_creditor_user:
        context["awaiting"] = awaiting_me(user=user)
        context["unread_notifications"] = context["awaiting"]["notifications"]  # the navigation's badge: counted once
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
            "dashboard": dashboard_for(user=user),
        }
    if user.role == Role.AGENT:
        figures = counter_total(user=user, agent_id=user.pk)
        return {
            "template": "web/home_agent.html",
            "totals": totals,
            "my_open_count": figures["open_count"],
            "my_figures": figures,
            "my_cases": case_list(user=user, agent_id=user.pk).filter(status__in=OPEN_STATUSES)[:15],
        }
    if user.role in {Role.SUPERVISOR, Role.AGENCY_ADMIN}:
        agents = list(User.objects.filter(role=Role.AGENT, is_active=True).order_by("last_name", "first_name", "pk"))
        by_agent = counter_figures(user=user, by="agent_id", status__in=sorted(OPEN_STATUSES))
        for agent in agents:
            agent.open_count = by_agent.get(agent.pk, EMPTY_FIGURES)["open_count"]
        creditors = list(Creditor.objects.visible_to(user).select_related("referent").order_by("name", "pk"))
        unassigned = by_agent.get(0, EMPTY_FIGURES)["open_count"]
        return {
            "template": "web/home_supervisor.html",
            "totals": totals,
            "agents": agents,
            "creditors": _with_figures(creditors, counter_figures(user=user, by="creditor_id")),
            "unassigned": unassigned,
            "overdue": remittances_overdue(),
            "referent_of": list(user.referent_of.all().order_by("name", "pk")),
            "dashboard": dashboard_for(user=user),
        }
    return {"template": "web/home_none.html", "totals": totals}
