"""The agency's « Échéances » page (B3): every open clock of every creditor, soonest due first, and the
share met per month and quarter. For supervisors and agency admins; creditor staff have their own page in
the portal (`portal.views_clocks`)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from amiable.accounts.permissions import can_reassign
from amiable.creditors.models import Creditor
from amiable.reporting.clocks import OPEN_STATES, clocks_of_rows, creditor_clocks, open_clock_page, rollup_shares
from amiable.reporting.forms_clocks import ClockFilterForm

PAGE_SIZE = 25


def clocks_context(request: HttpRequest) -> dict:
    """What both « Échéances » pages show, for the person asking: a page of the open clocks of the cases and
    requests (keyset pages, counted up to 1 000), the open clocks of the creditors' money (computed once),
    and the shares met, read from the daily rollup — so that a page costs the same whatever the cases."""
    form = ClockFilterForm(request.GET or None, user=request.user)
    filters = form.filters()
    day, at = timezone.localdate(), timezone.now()
    page = open_clock_page(
        user=request.user,
        after=request.GET.get("apres"),
        before=request.GET.get("avant"),
        size=PAGE_SIZE,
        **filters,
    )
    query = request.GET.copy()
    query.pop("apres", None)
    query.pop("avant", None)
    money = creditor_clocks(user=request.user, day=day, at=at, **filters)
    money = sorted((c for c in money if c.state in OPEN_STATES), key=lambda c: (c.due, c.kind, c.key))
    names = dict(Creditor.objects.visible_to(request.user).values_list("pk", "name"))
    shares, refreshed_at = rollup_shares(user=request.user, day=day, **filters)
    return {
        "form": form,
        "page": page,
        "clocks": [(c, names.get(c.creditor_id, "")) for c in clocks_of_rows(page.rows, day=day, at=at)],
        "money": [(c, names.get(c.creditor_id, "")) for c in money],
        "shares": shares,
        "shares_refreshed_at": refreshed_at,
        "query": query.urlencode(),
        "day": day,
    }


@login_required
@require_GET
def clocks_page(request: HttpRequest) -> HttpResponse:
    if not can_reassign(request.user):
        raise PermissionDenied("Réservé aux superviseurs et administrateurs de l'agence.")
    return render(request, "reporting/clocks.html", {**clocks_context(request), "agency": True})
