"""Pages of the intake: transmit a batch, follow its import, see batches and their acknowledgements."""

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.core.exceptions import ApplicationError
from amiable.core.views import run_service
from amiable.creditors.models import Creditor
from amiable.intake.forms import BatchUploadForm
from amiable.intake.models import Batch, ImportJob, ImportJobStatus
from amiable.intake.selectors import (
    batch_cases,
    batch_get,
    batch_list,
    batch_structure_totals,
    import_job_get,
    upload_guidance,
)
from amiable.intake.services import (
    import_job_cancel,
    import_job_confirm,
    import_job_create,
    import_job_lost,
    import_job_progress,
    import_job_requeued_at,
    import_job_stale,
    import_jobs_fail_stale,
    import_jobs_requeue_lost,
)
from amiable.intake.template import CONTENT_TYPES, batch_template
from amiable.intake.validation import FLAG_LABELS


def _may_transmit(user) -> bool:
    return user.is_agency or (user.is_creditor_user and user.allowed_structure_ids is None)


@login_required
@require_http_methods(["GET", "POST"])
def batch_upload(request: HttpRequest) -> HttpResponse:
    if not _may_transmit(request.user):
        raise PermissionDenied(
            "Les lots couvrent toutes les structures : votre compte est limité à certaines d'entre elles."
        )
    chosen = _chosen_creditor(request)
    form = BatchUploadForm(request.POST or None, request.FILES or None, user=request.user, creditor=chosen)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_job_create(
                creditor=form.cleaned_data["creditor"],
                content=upload.read(),
                filename=upload.name,
                actor=request.user,
                default_structure=form.cleaned_data.get("structure"),
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("intake:job", pk=job.pk)
    creditor = form.creditor
    guidance = upload_guidance(user=request.user, creditor=creditor)
    return render(
        request,
        "intake/upload.html",
        {
            "form": form,
            "creditor": creditor,
            "other_creditors": [] if request.user.is_creditor_user else _other_creditors(request.user, creditor),
            **guidance,
        },
    )


def _chosen_creditor(request):
    """The creditor an agency person picked on the upload page (`?creditor=`); creditor staff have theirs."""
    if request.user.is_creditor_user:
        return request.user.creditor
    pk = request.GET.get("creditor", "")
    if not pk.isdigit():
        return None
    return Creditor.objects.visible_to(request.user).filter(is_active=True, pk=pk).first()


def _other_creditors(user, creditor) -> list:
    qs = Creditor.objects.visible_to(user).filter(is_active=True).order_by("name")
    return [c for c in qs if creditor is None or c.pk != creditor.pk]


@login_required
@require_GET
def batch_template_download(request: HttpRequest, kind: str) -> HttpResponse:
    """The batch template of the person's creditor (agency staff: `?creditor=`), in CSV or XLSX."""
    if not _may_transmit(request.user):
        raise PermissionDenied("Votre compte ne transmet pas de lots.")
    if kind not in CONTENT_TYPES:
        raise Http404("Format inconnu.")
    creditor = _chosen_creditor(request)
    if creditor is None:
        creditor = Creditor.objects.visible_to(request.user).filter(is_active=True).order_by("name").first()
    if creditor is None:
        raise Http404("Aucun créancier.")
    content, filename, content_type = batch_template(creditor=creditor, kind=kind)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# A job's page stops polling once the file is checked (it waits for the person) or its import is over.
FINISHED = {ImportJobStatus.READY, ImportJobStatus.DONE, ImportJobStatus.FAILED, ImportJobStatus.CANCELLED}


def _job_context(request, pk) -> dict:
    try:
        job = import_job_get(user=request.user, pk=pk)
    except (ImportJob.DoesNotExist, ValueError) as exc:
        raise Http404("Import introuvable.") from exc
    progress = import_job_progress(job=job)
    percent = int(100 * progress["done"] / progress["total"]) if progress["total"] else 0
    outcome = job.outcome or {}
    return {
        "job": job,
        "progress": progress,
        "percent": percent,
        "finished": job.status in FINISHED,
        "requeued_at": import_job_requeued_at(job),
        "accepted_total": Decimal(outcome.get("accepted_balance_total") or "0"),
        "rejected": Paginator(outcome.get("rejected_rows") or [], 100).get_page(request.GET.get("page")),
    }


@login_required
@require_GET
def job_status(request: HttpRequest, pk) -> HttpResponse:
    context = _job_context(request, pk)
    job = context["job"]
    if import_job_stale(job) and import_jobs_fail_stale(job_id=job.pk):
        # Its worker died: the page that polls it is where the person learns it, at once.
        context = _job_context(request, pk)
        job = context["job"]
    elif import_job_lost(job) and import_jobs_requeue_lost(job_id=job.pk):
        # Its task was lost: queued again, and the page says why it waits.
        context = _job_context(request, pk)
        job = context["job"]
    if job.status == ImportJobStatus.DONE and job.batch_id:
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("intake:batch", args=[job.batch_id])
            return response
        return redirect("intake:batch", pk=job.batch_id)
    template = "intake/_job_progress.html" if request.htmx else "intake/job.html"
    return render(request, template, context)


def _job_for_post(request, pk):
    try:
        return import_job_get(user=request.user, pk=pk)
    except (ImportJob.DoesNotExist, ValueError) as exc:
        raise Http404("Import introuvable.") from exc


@login_required
@require_POST
def job_confirm(request: HttpRequest, pk) -> HttpResponse:
    """Confirm a checked file: its import runs, then the page moves to the batch and its acknowledgement."""
    job = _job_for_post(request, pk)
    run_service(
        request,
        lambda: import_job_confirm(job=job, actor=request.user),
        "Fichier confirmé : les créances acceptées sont prises en charge et l'accusé de réception est émis.",
    )
    return redirect("intake:job", pk=job.pk)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk) -> HttpResponse:
    job = _job_for_post(request, pk)
    run_service(
        request,
        lambda: import_job_cancel(job=job, actor=request.user),
        f"Fichier « {job.filename} » annulé : rien n'a été enregistré.",
    )
    return redirect("intake:job", pk=job.pk)


@login_required
@require_GET
def batches(request: HttpRequest) -> HttpResponse:
    page = Paginator(batch_list(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "intake/batch_list.html", {"page": page, "may_transmit": _may_transmit(request.user)})


@login_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        batch = batch_get(user=request.user, pk=pk)
    except Batch.DoesNotExist as exc:
        raise Http404("Lot introuvable.") from exc
    rejected = Paginator(batch.rejected_rows, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "intake/batch_detail.html",
        {
            "batch": batch,
            "structures": batch_structure_totals(batch=batch),
            "flags": [(FLAG_LABELS.get(flag, flag), count) for flag, count in batch.flags.items()],
            "rejected": rejected,
            "cases": Paginator(batch_cases(batch=batch), 50).get_page(request.GET.get("dossiers")),
        },
    )


DOCUMENTS = {
    "pdf": ("acknowledgement_pdf", "application/pdf"),
    "csv": ("acknowledgement_csv", "text/csv"),
    "xlsx": ("acknowledgement_xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


@login_required
@require_GET
def batch_document(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    try:
        batch = batch_get(user=request.user, pk=pk)
    except Batch.DoesNotExist as exc:
        raise Http404("Lot introuvable.") from exc
    if kind not in DOCUMENTS:
        raise Http404("Document introuvable.")
    field_name, content_type = DOCUMENTS[kind]
    file = getattr(batch, field_name)
    if not file:
        raise Http404("Document introuvable.")
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=f"Accusé de réception {batch.acknowledgement_number} ({kind})",
        creditor_pk=batch.creditor_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    return FileResponse(
        file.open("rb"),
        as_attachment=True,
        filename=f"{batch.acknowledgement_number}.{kind}",
        content_type=content_type,
    )
