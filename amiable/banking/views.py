"""Pages of the bank statements, for agency staff only: import a statement and list them, the review queue of
the credits nobody recognised, and the reconciliation of the client-funds account. Thin: parse a form, call
one service or selector, go back with a French message. Creditor users get 403."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from amiable.accounts.permissions import can_work_cases
from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.banking.forms import AssignForm, DismissForm, LinkForm, StatementUploadForm
from amiable.banking.models import BankEntry, BankStatement
from amiable.banking.parsed import FORMAT_LABELS
from amiable.banking.selectors import (
    cases_for_reference,
    entry_get,
    link_candidates,
    payment_get,
    reconciliation,
    review_queue,
    statement_entries,
    statement_get,
    statement_list,
)
from amiable.banking.services import bank_entry_assign, bank_entry_dismiss, bank_entry_link, statement_import
from amiable.core.money import format_money
from amiable.core.views import form_errors_to_messages, run_service


def _agency_only(request: HttpRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")


def _import_message(request: HttpRequest, result) -> None:
    if result.status == "refused":
        messages.error(request, f"Relevé refusé : {result.error}")
    elif result.status == "duplicate":
        messages.warning(request, result.error)
    else:
        messages.success(
            request,
            f"Relevé {FORMAT_LABELS[result.format]} importé : {result.statement.new_entry_count} mouvement(s) "
            f"nouveau(x) sur {result.entries} ; {result.matched} crédit(s) rapproché(s) d'un dossier pour "
            f"{format_money(result.matched_total)}, {result.to_review} à examiner"
            + (f" ; {result.debits_matched} débit(s) rapproché(s) d'un reversement." if result.debits_matched else "."),
        )


@login_required
@require_http_methods(["GET", "POST"])
def statements(request: HttpRequest) -> HttpResponse:
    _agency_only(request)
    form = StatementUploadForm(request.POST, request.FILES) if request.method == "POST" else StatementUploadForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        # statement_import turns every refusal into its result: nothing to catch here.
        result = statement_import(content=upload.read(), filename=upload.name, actor=request.user)
        _import_message(request, result)
        if result.status == "imported":
            return redirect("banking:statement", pk=result.statement.pk)
        return redirect("banking:statements")
    page = Paginator(statement_list(), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "banking/statements.html",
        {"form": form, "page": page, "queued": review_queue().count()},
    )


def _statement(pk: int) -> BankStatement:
    try:
        return statement_get(pk=pk)
    except BankStatement.DoesNotExist as exc:
        raise Http404("Relevé introuvable.") from exc


@login_required
@require_GET
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _agency_only(request)
    statement = _statement(pk)
    entries = Paginator(statement_entries(statement=statement), 100).get_page(request.GET.get("page"))
    return render(request, "banking/statement.html", {"statement": statement, "page": entries})


@login_required
@require_GET
def statement_file(request: HttpRequest, pk: int) -> FileResponse:
    _agency_only(request)
    statement = _statement(pk)
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=f"Relevé bancaire {statement.filename} (du {statement.opening_on:%d/%m/%Y} au "
        f"{statement.closing_on:%d/%m/%Y})",
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    return FileResponse(statement.file.open("rb"), as_attachment=True, filename=statement.filename)


@login_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    _agency_only(request)
    page = Paginator(review_queue(), 25).get_page(request.GET.get("page"))
    entries = list(page.object_list)
    candidates = link_candidates(entries=entries)
    rows = [(entry, candidates[entry.pk]) for entry in entries]
    assign_form = AssignForm()
    return render(
        request,
        "banking/review.html",
        {
            "page": page,
            "rows": rows,
            "assign_form": assign_form,
            "creditors": list(assign_form.fields["creditor"].queryset),
            "dismiss_form": DismissForm(),
        },
    )


def _entry(pk: int) -> BankEntry:
    try:
        return entry_get(pk=pk)
    except BankEntry.DoesNotExist as exc:
        raise Http404("Mouvement introuvable.") from exc


def _back() -> HttpResponse:
    return redirect("banking:review")


@login_required
@require_POST
def entry_assign(request: HttpRequest, pk: int) -> HttpResponse:
    _agency_only(request)
    entry = _entry(pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return _back()
    reference, creditor = form.cleaned_data["reference"].strip(), form.cleaned_data["creditor"]
    found = cases_for_reference(reference=reference, creditor=creditor)
    if not found:
        where = f" chez {creditor.name}" if creditor else ""
        messages.error(request, f"Aucun dossier non clos n'a la référence « {reference} »{where}.")
        return _back()
    if len(found) > 1:
        names = ", ".join(case.creditor.name for case in found)
        messages.error(
            request, f"Plusieurs dossiers ont la référence « {reference} » ({names}) : choisissez le créancier."
        )
        return _back()
    case = found[0]
    run_service(
        request,
        lambda: bank_entry_assign(entry=entry, case=case, actor=request.user),
        f"Crédit de {format_money(entry.amount)} affecté au dossier {case.reference}.",
    )
    return _back()


@login_required
@require_POST
def entry_link(request: HttpRequest, pk: int) -> HttpResponse:
    _agency_only(request)
    entry = _entry(pk)
    form = LinkForm(request.POST)
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return _back()
    payment = payment_get(pk=form.cleaned_data["payment"])
    if payment is None:
        raise Http404("Paiement introuvable.")
    run_service(
        request,
        lambda: bank_entry_link(entry=entry, payment=payment, actor=request.user),
        f"Crédit de {format_money(entry.amount)} rapproché du paiement saisi sur le dossier {payment.case.reference}.",
    )
    return _back()


@login_required
@require_POST
def entry_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    _agency_only(request)
    entry = _entry(pk)
    form = DismissForm(request.POST)
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return _back()
    run_service(
        request,
        lambda: bank_entry_dismiss(entry=entry, reason=form.cleaned_data["reason"], actor=request.user),
        f"Crédit de {format_money(entry.amount)} écarté : ce n'est pas un paiement de débiteur.",
    )
    return _back()


@login_required
@require_GET
def reconciliation_page(request: HttpRequest) -> HttpResponse:
    _agency_only(request)
    return render(request, "banking/reconciliation.html", {"r": reconciliation()})
