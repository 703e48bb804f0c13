"""The « Plan d'apurement » card's pages: the agent's form with its preview, the proposal, the debtor's other
proposals (C19), and the plan's document, which the case's creditor staff open too (C37). Thin: parse, call
one service or selector, answer."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from amiable.cases.access import agency_case, stored_document
from amiable.cases.models import Case
from amiable.core.exceptions import ApplicationError
from amiable.core.views import submit_form
from amiable.creditors.selectors import terms_for
from amiable.payments.forms_plans import PlanForm, SettlementProposalForm
from amiable.payments.models import Plan, PlanStatus
from amiable.payments.plans import plan_get, plan_propose, plan_schedule, settlement_proposal_send


def _case_page(case: Case, anchor: str = "plan") -> str:
    return reverse("case_detail", args=[case.pk]) + f"#{anchor}"


def _form_page(request: HttpRequest, case: Case, form: PlanForm, **extra) -> HttpResponse:
    """The forms as a fragment loaded into the case page's card (htmx), or as a page of their own."""
    template = "payments/_plan_form.html" if getattr(request, "htmx", False) else "payments/plan_form.html"
    context = {
        "case": case,
        "form": form,
        "settlement_form": SettlementProposalForm(),
        "max_months": terms_for(case.creditor_id).max_plan_months,
        "running": Plan.objects.filter(case=case, status__in=[PlanStatus.AWAITING_APPROVAL, PlanStatus.ACTIVE]).first(),
        **extra,
    }
    return render(request, template, context)


@login_required
@require_GET
def plan_form(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = agency_case(request, case_pk)
    return _form_page(request, case, PlanForm())


@login_required
@require_POST
def plan_preview(request: HttpRequest, case_pk: int) -> HttpResponse:
    """The schedule the proposal would store, and whether the agency grants it or the creditor decides."""
    case = agency_case(request, case_pk)
    form = PlanForm(request.POST)
    schedule, refusal = None, None
    if form.is_valid():
        try:
            schedule = plan_schedule(case=case, **form.schedule())
        except ApplicationError as exc:
            refusal = exc.message
    return _form_page(request, case, form, schedule=schedule, refusal=refusal)


@login_required
@require_POST
def plan_propose_post(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = agency_case(request, case_pk)
    form = PlanForm(request.POST)
    submit_form(
        request,
        form,
        lambda data: plan_propose(case=case, actor=request.user, **form.schedule()),
        lambda plan: (
            f"Plan d'apurement {plan.number} accordé : le dossier passe « Plan d'apurement », le document part au "
            "débiteur et le créancier en est informé."
            if plan.status == PlanStatus.ACTIVE
            else f"Plan d'apurement {plan.number} soumis à l'accord du créancier (au-delà de la durée du contrat)."
        ),
    )
    return redirect(_case_page(case))


@login_required
@require_POST
def settlement_post(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = agency_case(request, case_pk)
    submit_form(
        request,
        SettlementProposalForm(request.POST),
        lambda data: settlement_proposal_send(
            case=case, proposal=data["proposal"], amount=data["amount"], dates=data["dates"], actor=request.user
        ),
        "Proposition du débiteur transmise au créancier pour décision.",
    )
    return redirect(_case_page(case, "decisions"))


# The PDF carries no CSP: the browser's PDF viewer is an HTML page of its own that a strict policy breaks.
@login_required
@require_GET
@csp_exempt()
def plan_pdf(request: HttpRequest, pk: int) -> FileResponse:
    try:
        plan = plan_get(user=request.user, pk=pk)
    except Plan.DoesNotExist as exc:
        raise Http404("Plan introuvable.") from exc
    if not plan.pdf:
        raise Http404("Le document de ce plan n'existe pas encore (plan non accordé).")
    return stored_document(
        request,
        document=plan,
        label=f"Plan d'apurement {plan.number}",
        missing="Le fichier de ce plan est introuvable.",
    )
