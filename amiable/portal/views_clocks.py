"""The creditor's « Échéances » page (B3): the clocks of its own cases, requests and remittances — only the
structures a limited person may see — and the share met per month and quarter. Agency staff are sent to
the agency's page."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from amiable.reporting.views_clocks import clocks_context


@login_required
@require_GET
def clocks_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_agency:
        return redirect("clocks:list")
    if not request.user.is_creditor_user:
        raise Http404("Page introuvable.")
    return render(request, "portal/clocks.html", {**clocks_context(request), "agency": False})
