"""Pages of the shell: home per role, case list and read-only case page. Thin: parse, select, render."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from amiable.accounts.models import Role
from amiable.accounts.permissions import can_work_cases
from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.models import Case, Channel
from amiable.cases.policy import case_contact_block
from amiable.cases.selectors import (
    case_contact_points,
    case_get,
    case_list,
    case_next_task,
    case_open_tasks,
    case_timeline,
    case_totals,
)
from amiable.cases.services import case_mark_read
from amiable.closure.forms import IrrecoverableForm
from amiable.closure.selectors import case_closure_panel
from amiable.creditors.selectors import terms_for
from amiable.payments.forms import payment_card
from amiable.payments.selectors import case_money
from amiable.portal.forms import ApprovalAskForm, CaseRequestForm, CommentForm, RecallForm
from amiable.portal.selectors import case_collaboration
from amiable.web.forms import CaseFilterForm
from amiable.web.selectors import home_for

PAGE_SIZE = 25


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = home_for(user=request.user)
    return render(request, context.pop("template"), context)


@require_GET
@login_required
def cases(request: HttpRequest) -> HttpResponse:
    form = CaseFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    creditor = filters.get("creditor")
    structure = filters.get("structure")
    qs = case_list(
        user=request.user,
        search=filters.get("q", ""),
        creditor_id=creditor.pk if creditor else None,
        structure_id=structure.pk if structure else None,
        status=filters.get("status", ""),
        sort=filters.get("sort") or "recu",
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/case_list.html",
        {"form": form, "page": page, "query": query.urlencode(), "totals": case_totals(user=request.user)},
    )


@require_GET
@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        case = case_get(user=request.user, pk=pk)
    except Case.DoesNotExist as exc:
        raise Http404("Dossier introuvable.") from exc
    collaboration = case_collaboration(case=case, user=request.user)  # unread markers need the previous visit
    case_mark_read(case=case, user=request.user)
    access_log_record(
        user=request.user,
        kind=AccessKind.CASE_VIEW,
        label=f"Dossier {case.reference}",
        case_pk=case.pk,
        creditor_pk=case.creditor_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    money = case_money(case=case)
    return render(
        request,
        "web/case_detail.html",
        {
            **collaboration,
            "comment_form": CommentForm(),
            "request_form": CaseRequestForm(terms=terms_for(case.creditor)),
            "approval_form": ApprovalAskForm(),
            "recall_form": RecallForm(),
            "now": timezone.now(),
            "case": case,
            "money": money,
            "payment_card": payment_card(case=case, user=request.user, money=money),
            "contact_points": case_contact_points(case=case),
            "timeline": case_timeline(case=case, include_internal=request.user.is_agency),
            "tasks": case_open_tasks(case=case) if request.user.is_agency else [],
            "next_task": case_next_task(case=case),
            "letter_block": case_contact_block(case, Channel.LETTER) if can_work_cases(request.user) else None,
            "roles": Role,
            "closure_panel": case_closure_panel(case=case, user=request.user),
            "irrecoverable_form": IrrecoverableForm(),
        },
    )
