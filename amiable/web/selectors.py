"""What each role's home page shows."""

from django.db.models import Count, Q, Sum

from amiable.accounts.models import Role, User
from amiable.cases.models import OPEN_STATUSES, Case
from amiable.cases.selectors import case_list, case_totals, money_figures, recovered_sum
from amiable.core.money import ZERO, rate_percent, to_money
from amiable.creditors.models import Creditor, Structure
from amiable.portal.selectors import awaiting_me, unread_comment_cases
from amiable.remittances.alerts import remittances_overdue
from amiable.reporting.dashboards import dashboard_for


# Per creditor or structure, in the one query that lists them: open cases and what remains due on them,
# what was recovered and claimed over all their cases (the rate is recovered ÷ claimed).
def _money_annotations() -> dict:
    return {
        "open_count": Count("cases", filter=Q(cases__status__in=OPEN_STATUSES)),
        "open_amount": Sum("cases__balance", filter=Q(cases__status__in=OPEN_STATUSES)),
        "claimed_amount": Sum("cases__claimed_amount"),
        "recovered_amount": recovered_sum("cases__"),
    }


def _with_rates(rows: list) -> list:
    """The amounts brought back to cents (SQLite sums decimals in floating point) and the recovery rate."""
    for row in rows:
        row.open_amount = to_money(row.open_amount or ZERO)
        row.claimed_amount = to_money(row.claimed_amount or ZERO)
        row.recovered_amount = to_money(row.recovered_amount or ZERO)
        row.recovery_rate = rate_percent(row.recovered_amount, row.claimed_amount)
    return rows


def _structure_summary(user) -> list:
    return _with_rates(
        list(
            Structure.objects.visible_to(user)
            .annotate(**_money_annotations())
            .select_related("creditor")
            .order_by("creditor__name", "code", "pk")
        )
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
            "dashboard": dashboard_for(user=user),
        }
    if user.role == Role.AGENT:
        mine = case_list(user=user, agent_id=user.pk)
        # The agent's open cases counted with what was recovered of all their cases, in one query.
        figures = money_figures(mine, open_count=Count("pk", filter=Q(status__in=OPEN_STATUSES)))
        return {
            "template": "web/home_agent.html",
            "totals": totals,
            "my_open_count": figures["open_count"],
            "my_figures": figures,
            "my_cases": mine.filter(status__in=OPEN_STATUSES)[:15],
        }
    if user.role in {Role.SUPERVISOR, Role.AGENCY_ADMIN}:
        agents = (
            User.objects.filter(role=Role.AGENT, is_active=True)
            .annotate(open_count=Count("assigned_cases", filter=Q(assigned_cases__status__in=OPEN_STATUSES)))
            .order_by("last_name", "first_name", "pk")
        )
        creditors = _with_rates(
            list(
                Creditor.objects.visible_to(user)
                .annotate(**_money_annotations())
                .select_related("referent")
                .order_by("name", "pk")
            )
        )
        unassigned = Case.objects.open().filter(assigned_agent__isnull=True).count()
        return {
            "template": "web/home_supervisor.html",
            "totals": totals,
            "agents": agents,
            "creditors": creditors,
            "unassigned": unassigned,
            "overdue": remittances_overdue(),
            "referent_of": list(user.referent_of.all().order_by("name", "pk")),
            "dashboard": dashboard_for(user=user),
        }
    return {"template": "web/home_none.html", "totals": totals}
