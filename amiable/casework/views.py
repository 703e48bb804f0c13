"""Pages of the case work, for agency staff only: « Ma journée » with its bulk reassignment, and the forms
of the « Actions » card of a case page. Thin: parse a form, call one service or selector, go back to the
page with a French message; a refused form is kept (`amiable.core.views.form_keep`) and comes back on the
case page with what was typed, its errors beside their fields and its panel open. Creditor users get 403
(or 404 for a case they may not see)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from amiable.accounts.permissions import can_reassign, can_work_cases
from amiable.cases.access import agency_case
from amiable.cases.models import Case, Channel
from amiable.cases.policy import case_contact_block
from amiable.cases.services import debtor_do_not_contact_set
from amiable.casework.forms import (
    ME,
    UNASSIGNED_VALUE,
    CallForm,
    DayFilterForm,
    DoNotContactForm,
    EventForm,
    InvestigationForm,
    ReassignForm,
    ReturnedMailForm,
)
from amiable.casework.selectors import (
    ITEM_KINDS,
    SECTION_LIMIT,
    agency_people,
    case_address_points,
    case_open_investigations,
    case_phone_points,
    case_promises,
    case_recent_calls,
    creditor_choices,
    day_queue,
    task_kind_choices,
)
from amiable.casework.services import (
    case_take,
    cases_reassign,
    event_record,
    investigation_record,
    returned_mail_record,
)
from amiable.contact.models import CallOutcome, PromiseToPay
from amiable.contact.selectors import promise_latest_due_on
from amiable.contact.services import call_record, promise_mark_kept
from amiable.core.views import form_errors_to_messages, form_pending, form_restore, run_service, submit_form
from amiable.creditors.selectors import agency_get
from amiable.letters.models import Letter, LetterKind

PREFIXES = {"call": "appel", "event": "evenement", "npai": "npai", "investigation": "recherche", "dnc": "contact"}


def _agency_only(request: HttpRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")


def _back(case: Case) -> HttpResponse:
    return redirect(f"/dossiers/{case.pk}/#actions")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


# --- Ma journée ---------------------------------------------------------------------------------------


def _day_agent(request: HttpRequest, form: DayFilterForm, supervisor: bool):
    """Whose day is shown: one's own; for a supervisor, the agent picked or None (« non attribués »). An
    agent asking for someone else's day is refused; asking for their own is their own day."""
    asked = request.GET.get("agent", "")
    if not supervisor:
        if asked and asked != str(request.user.pk):
            raise PermissionDenied("Seuls les superviseurs peuvent consulter la journée d'un autre gestionnaire.")
        return request.user
    if not form.is_bound or (not form.is_valid() and "agent" in form.errors):
        return request.user
    agent = form.cleaned_data.get("agent", ME)
    return request.user if agent is ME else agent


@require_GET
@login_required
def day(request: HttpRequest) -> HttpResponse:
    _agency_only(request)
    supervisor = can_reassign(request.user)
    agents = list(agency_people()) if supervisor else None
    form = DayFilterForm(
        request.GET or None,
        types=ITEM_KINDS,
        kinds=task_kind_choices(),
        creditors=creditor_choices(),
        agents=agents,
    )
    agent = _day_agent(request, form, supervisor)
    filters = form.cleaned_data if form.is_valid() else {}
    creditor = filters.get("creditor")
    queue = day_queue(
        agent=agent,
        kind=filters.get("type", ""),
        task_kind=filters.get("kind", ""),
        creditor_id=creditor.pk if creditor else None,
    )
    # The chips: one link per kind, keeping whose day and which creditor.
    kept = {k: request.GET[k] for k in ("agent", "creditor") if request.GET.get(k)}
    url = reverse("work:day")
    chips = [
        {
            "label": label,
            "count": queue.count(value) if value else sum(queue.count(k) for k, _ in ITEM_KINDS),
            "url": f"{url}?{urlencode({**kept, **({'type': value} if value else {})})}" if kept or value else url,
            "current": value == queue.kind,
        }
        for value, label in [("", "Tout"), *ITEM_KINDS]
    ]
    return render(
        request,
        "casework/day.html",
        {
            "form": form,
            "queue": queue,
            "items": queue.items,
            "chips": chips,
            "agent": agent,
            "unassigned": agent is None,
            "is_me": agent is not None and agent.pk == request.user.pk,
            "can_reassign": supervisor,
            "agents": agents or [],
            "today": timezone.localdate(),
            "limit": SECTION_LIMIT,
        },
    )


def _reassign_posted(request: HttpRequest, done: str) -> None:
    """The ticked cases (of « Ma journée » or of the case list) given to one agent, for supervisors only."""
    if not can_reassign(request.user):
        raise PermissionDenied("Seuls les superviseurs et administrateurs de l'agence peuvent attribuer des dossiers.")
    form = ReassignForm(request.POST, agents=agency_people())
    if form.is_valid():
        agent = form.cleaned_data["agent"]
        run_service(
            request,
            lambda: cases_reassign(case_ids=form.cleaned_data["cases"], agent=agent, actor=request.user),
            lambda n: f"{_plural(n, 'dossier')} {done}{'s' if n > 1 else ''} à {agent}.",
        )
    else:
        form_errors_to_messages(request, form)


@require_POST
@login_required
def day_reassign(request: HttpRequest) -> HttpResponse:
    _reassign_posted(request, "confié")
    url = reverse("work:day")
    viewed = request.POST.get("vue", "")
    return redirect(f"{url}?agent={viewed}" if viewed.isdigit() or viewed == UNASSIGNED_VALUE else url)


# --- assignment from the case list and the case page ---------------------------------------------------


def _list_url(retour: str) -> str:
    """The case list with the filters it was posted from: only a query string is kept, never another address."""
    query = QueryDict(retour or "", mutable=False).urlencode()
    url = reverse("case_list")
    return f"{url}?{query}" if query else url


@require_POST
@login_required
def cases_assign(request: HttpRequest) -> HttpResponse:
    """The case list's bulk « Attribuer à… »: the ticked cases go to one agent, then back to the same list."""
    _reassign_posted(request, "attribué")
    return redirect(_list_url(request.POST.get("retour", "")))


@require_POST
@login_required
def case_assign_post(request: HttpRequest, pk: int) -> HttpResponse:
    """« Attribuer / Réattribuer » on a case page: a supervisor gives the case to an agent; an agent takes an
    open case that nobody follows (« Prendre ce dossier »)."""
    case = agency_case(request, pk)
    if can_reassign(request.user):
        form = ReassignForm({"cases": [case.pk], "agent": request.POST.get("agent", "")}, agents=agency_people())
        if form.is_valid():
            agent = form.cleaned_data["agent"]
            run_service(
                request,
                lambda: cases_reassign(case_ids=[case.pk], agent=agent, actor=request.user),
                f"Dossier {case.reference} attribué à {agent}.",
            )
        else:
            form_errors_to_messages(request, form)
    else:
        run_service(
            request,
            lambda: case_take(case=case, actor=request.user),
            f"Vous suivez désormais le dossier {case.reference}.",
        )
    return redirect("case_detail", pk=case.pk)


# --- the « Actions » card of a case -------------------------------------------------------------------


def _key(name: str, case: Case) -> str:
    """The session key of a refused form of the card: per case, so that it never shows on another case."""
    return f"{PREFIXES[name]}-{case.pk}"


def actions_pending(request: HttpRequest, case: Case) -> bool:
    """Whether a form of the card was refused: the case page then shows the card at once (without JavaScript
    too), with the refused form open."""
    return form_pending(request, *(_key(name, case) for name in PREFIXES))


def _call_form(case: Case, data=None) -> CallForm:
    today = timezone.localdate()
    kwargs = {
        "phones": case_phone_points(case=case),
        "prefix": PREFIXES["call"],
        "balance": case.balance,
        "today": today,
        "latest_due_on": promise_latest_due_on(case=case, day=today),
    }
    return CallForm(data, **kwargs) if data is not None else kwargs


def actions_context(request: HttpRequest, case: Case) -> dict:
    """The card's forms, each fresh or as it was refused (read once from the session)."""
    addresses = list(case_address_points(case=case))
    investigations = list(case_open_investigations(case=case))
    return {
        "case": case,
        "call_form": form_restore(request, _key("call", case), CallForm, **_call_form(case)),
        "event_form": form_restore(
            request,
            _key("event", case),
            EventForm,
            prefix=PREFIXES["event"],
            initial={"occurred_on": timezone.localdate()},
        ),
        "npai_form": form_restore(
            request,
            _key("npai", case),
            ReturnedMailForm,
            addresses=case_address_points(case=case),
            prefix=PREFIXES["npai"],
        ),
        "has_addresses": bool(addresses),
        "investigation_form": form_restore(
            request,
            _key("investigation", case),
            InvestigationForm,
            tasks=case_open_investigations(case=case),
            prefix=PREFIXES["investigation"],
        ),
        "investigations": investigations,
        "dnc_form": form_restore(request, _key("dnc", case), DoNotContactForm, prefix=PREFIXES["dnc"]),
        "call_refusal": case_contact_block(case, Channel.CALL),
        "recent_calls": case_recent_calls(case=case),
        "first_letter": Letter.objects.filter(case=case, kind=LetterKind.FIRST).first(),
        "promises": case_promises(case=case),
        "agency": agency_get(),
    }


@require_GET
@login_required
def case_actions(request: HttpRequest, pk: int) -> HttpResponse:
    """The card's forms: a fragment loaded into the case page (htmx), or a page of its own without JavaScript."""
    case = agency_case(request, pk)
    template = "casework/_case_actions.html" if getattr(request, "htmx", False) else "casework/case_actions.html"
    return render(request, template, actions_context(request, case))


def _submit(request: HttpRequest, case: Case, name: str, form, action, success) -> HttpResponse:
    """Run the service with the form's data; a refused form is kept for the case page, which shows it again."""
    submit_form(request, form, action, success, keep=_key(name, case))
    return _back(case)


@require_POST
@login_required
def call_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    return _submit(
        request,
        case,
        "call",
        _call_form(case, request.POST),
        lambda data: call_record(
            case=case,
            actor=request.user,
            number=data["number"],
            outcome=data["outcome"],
            direction=data["direction"],
            notes=data["notes"],
            promise_amount=data.get("promise_amount"),
            promise_due_on=data.get("promise_due_on"),
        ),
        lambda call: (
            "Appel et promesse de paiement enregistrés."
            if call.outcome == CallOutcome.PROMISE
            else f"Appel enregistré : {call.get_outcome_display().lower()}."
        ),
    )


@require_POST
@login_required
def event_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    return _submit(
        request,
        case,
        "event",
        EventForm(request.POST, prefix=PREFIXES["event"]),
        lambda data: event_record(
            case=case,
            kind=data["kind"],
            occurred_on=data["occurred_on"],
            details=data["details"],
            actor=request.user,
        ),
        lambda event: f"Événement enregistré : {event.get_kind_display().lower()}.",
    )


@require_POST
@login_required
def returned_mail_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    return _submit(
        request,
        case,
        "npai",
        ReturnedMailForm(request.POST, addresses=case_address_points(case=case), prefix=PREFIXES["npai"]),
        lambda data: returned_mail_record(case=case, actor=request.user, point=data["point"]),
        lambda done: (
            "Courrier revenu enregistré : l'adresse est marquée invalide"
            + (
                " et une recherche d'adresse est ouverte."
                if done.task_created
                else " ; la recherche d'adresse déjà ouverte continue."
                if done.task
                else "."
            )
        ),
    )


@require_POST
@login_required
def investigation_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    form = InvestigationForm(request.POST, tasks=case_open_investigations(case=case), prefix=PREFIXES["investigation"])
    return _submit(
        request,
        case,
        "investigation",
        form,
        lambda data: investigation_record(
            task=data["task"],
            actor=request.user,
            sources=data["sources"],
            result=data["result"],
            new_address=form.new_address(),
        ),
        lambda point: (
            "Recherche d'adresse close"
            + (" : nouvelle adresse enregistrée, les précédentes sont invalidées." if point else ".")
        ),
    )


@require_POST
@login_required
def do_not_contact_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    form = DoNotContactForm(request.POST, prefix=PREFIXES["dnc"])
    return _submit(
        request,
        case,
        "dnc",
        form,
        lambda data: debtor_do_not_contact_set(debtor=case.debtor, actor=request.user, value=data["value"], case=case),
        lambda _done: (
            "Le débiteur ne sera plus contacté."
            if form.cleaned_data["value"]
            else "Les contacts avec le débiteur sont de nouveau autorisés."
        ),
    )


@require_POST
@login_required
def promise_kept_post(request: HttpRequest, pk: int, promise_pk: int) -> HttpResponse:
    """Mark a promise to pay of the case kept (the debtor paid as promised)."""
    case = agency_case(request, pk)
    promise = get_object_or_404(PromiseToPay, pk=promise_pk, case=case)
    run_service(request, lambda: promise_mark_kept(promise=promise, actor=request.user), "Promesse marquée tenue.")
    return _back(case)
