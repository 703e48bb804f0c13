"""Pages of the shell: home per role, case list and read-only case page. Thin: parse, select, render."""

import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from amiable.accounts.models import Role
from amiable.accounts.permissions import can_reassign, can_work_cases
from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.models import Case, Channel, TaskKind
from amiable.cases.policy import case_contact_block
from amiable.cases.selectors import (
    CASE_COLUMNS,
    case_contact_points,
    case_get,
    case_list,
    case_open_tasks,
    case_timeline,
    case_totals,
    next_task_of,
)
from amiable.cases.services import case_mark_read
from amiable.casework.selectors import agency_people
from amiable.casework.views import actions_context, actions_pending
from amiable.closure.forms import IrrecoverableForm
from amiable.closure.selectors import case_closure_panel
from amiable.contact.views import contact_point_forms
from amiable.core.money import format_count
from amiable.core.pagination import CappedPaginator
from amiable.core.spreadsheets import write_csv, write_xlsx
from amiable.payments.forms import payment_card
from amiable.payments.selectors import case_money
from amiable.portal.selectors import case_collaboration
from amiable.portal.views import case_forms
from amiable.web.forms import FILTER_NAMES, MINE, CaseFilterForm
from amiable.web.selectors import home_for

PAGE_SIZE = 25


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = home_for(user=request.user)
    return render(request, context.pop("template"), context)


# Headers of the case list: (column key of CASE_COLUMNS, label, numeric, agency only).
LIST_COLUMNS = [
    ("reference", "Référence", False, False),
    ("debiteur", "Débiteur", False, False),
    ("structure", "Structure", False, False),
    ("recu", "Reçu le", False, False),
    ("solde", "Reste dû", True, False),
    ("statut", "Statut", False, False),
    ("action", "Prochaine action", False, True),
    ("gestionnaire", "Gestionnaire", False, True),
]


def _filter_form(request: HttpRequest) -> CaseFilterForm:
    """The list's filters from the address. An agent who names no filter sees « Mes dossiers »."""
    data = request.GET.copy()
    if request.user.role == Role.AGENT and not FILTER_NAMES & set(data):
        data["agent"] = MINE
    agents = agency_people() if request.user.is_agency else None
    return CaseFilterForm(data, user=request.user, agents=agents)


def _sort_columns(request: HttpRequest, sort: str) -> list[dict]:
    """Each header's link (the other direction when the list is sorted on it, ascending otherwise) and its
    aria-sort; the links keep the filters and go back to the first page."""
    query = request.GET.copy()
    query.pop("page", None)
    columns = []
    for key, label, numeric, agency_only in LIST_COLUMNS:
        if agency_only and not request.user.is_agency:
            continue
        ascending, descending = CASE_COLUMNS[key]
        state = "ascending" if sort == ascending else "descending" if sort == descending else ""
        query["sort"] = descending if state == "ascending" else ascending
        columns.append({"label": label, "url": "?" + query.urlencode(), "aria_sort": state, "numeric": numeric})
    return columns


@require_GET
@login_required
def cases(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    arguments = form.case_list_arguments(request.user)
    qs = case_list(user=request.user, **arguments)
    if "q" in form.errors:
        qs = qs.none()  # a refused search finds nothing: listing every case would pass for its answer
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for case in page.object_list:
        case.next_action_label = TaskKind(case.next_action_kind).label if case.next_action_kind else ""
    query = form.data.copy()
    query.pop("page", None)
    here = query.copy()
    here["page"] = str(page.number)
    reassign = can_reassign(request.user)
    return render(
        request,
        "web/case_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "here": here.urlencode(),
            "columns": _sort_columns(request, arguments["sort"]),
            "today": timezone.localdate(),
            "totals": case_totals(user=request.user),
            "can_reassign": reassign,
            "agents": form.fields["agent"].choices[3:] if reassign else [],
            "can_export": can_work_cases(request.user),
            "colspan": 6 + (3 if request.user.is_agency else 0) + (1 if reassign else 0),
        },
    )


# An export holds at most this many cases: beyond, the person narrows the filters (never a silent cut).
EXPORT_MAX_ROWS = 100_000
EXPORT_HEADER = [
    "Référence",
    "Créancier",
    "Structure",
    "Débiteur",
    "Reçu le",
    "Montant réclamé",
    "Payé",
    "Reste dû",
    "Statut",
    "Prochaine action le",
    "Prochaine action",
    "Gestionnaire",
]


def _export_rows(qs):
    for case in qs.iterator(chunk_size=2000):
        yield [
            case.reference,
            case.creditor.name,
            case.structure.code,
            case.debtor.display_name,
            case.received_on,
            case.claimed_amount,
            case.paid_amount,
            case.balance,
            case.get_status_display(),
            case.next_action_on,
            TaskKind(case.next_action_kind).label if case.next_action_kind else "",
            str(case.assigned_agent) if case.assigned_agent else "Non attribué",
        ]


@require_GET
@login_required
def cases_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered list as a CSV or XLSX file, for the agency (formulas neutralised by `core.spreadsheets`);
    its download is logged like any read of debtors' data."""
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")
    form = _filter_form(request)
    qs = case_list(user=request.user, **form.case_list_arguments(request.user))
    count = qs.count()
    if count > EXPORT_MAX_ROWS:
        messages.error(
            request,
            f"L'export est limité à {format_count(EXPORT_MAX_ROWS)} dossiers ; "
            f"la liste en compte {format_count(count)} : affinez les filtres.",
        )
        return redirect(f"{reverse('case_list')}?{request.GET.urlencode()}")
    today = timezone.localdate()
    handle = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the response, which closes it)
    if fmt == "xlsx":
        write_xlsx(
            handle,
            "Dossiers",
            EXPORT_HEADER,
            _export_rows(qs),
            money_columns=["Montant réclamé", "Payé", "Reste dû"],
            date_columns=["Reçu le", "Prochaine action le"],
            title=f"Dossiers au {today:%d/%m/%Y} — {count} dossier{'s' if count > 1 else ''}",
        )
    else:
        write_csv(handle, EXPORT_HEADER, _export_rows(qs))
    handle.seek(0)
    access_log_record(
        user=request.user,
        kind=AccessKind.EXPORT,
        label=f"Liste des dossiers ({count} dossier{'s' if count > 1 else ''}, {fmt.upper()})",
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    response = FileResponse(handle, as_attachment=True, filename=f"dossiers-{today:%Y-%m-%d}.{fmt}")
    response["Content-Type"] = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if fmt == "xlsx"
        else "text/csv; charset=utf-8"
    )
    response["Cache-Control"] = "no-store"
    return response


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
    tasks = list(case_open_tasks(case=case)) if request.user.is_agency else []
    # A refused form of the « Actions » card: the card is shown at once (no htmx), its form open.
    actions = actions_context(request, case) if can_work_cases(request.user) and actions_pending(request, case) else {}
    return render(
        request,
        "web/case_detail.html",
        {
            **collaboration,
            **case_forms(request, case),  # comment, request, approval, recall: fresh or as refused
            **actions,
            "actions_inline": bool(actions),
            "now": timezone.now(),
            "case": case,
            "money": money,
            "payment_card": payment_card(case=case, user=request.user, money=money),
            # The points, with their correction forms (agency staff) fresh or as refused, and the add form.
            **(
                contact_point_forms(request, case, case_contact_points(case=case))
                if can_work_cases(request.user)
                else {"contact_points": case_contact_points(case=case)}
            ),
            "timeline": case_timeline(case=case, include_internal=request.user.is_agency),
            # The agency's to-do list stays the agency's: creditor staff see what was done, not what is planned.
            "tasks": tasks,
            "next_task": next_task_of(tasks),
            "letter_block": case_contact_block(case, Channel.LETTER) if can_work_cases(request.user) else None,
            "roles": Role,
            "closure_panel": case_closure_panel(case=case, user=request.user),
            "irrecoverable_form": IrrecoverableForm(),
            "assign_agents": list(agency_people()) if can_reassign(request.user) else None,
        },
    )
