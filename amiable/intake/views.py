"""Pages of the intake: transmit a batch, follow its import, see batches and their acknowledgements."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.core.exceptions import ApplicationError
from amiable.intake.forms import BatchUploadForm
from amiable.intake.models import Batch, ImportJob, ImportJobStatus
from amiable.intake.selectors import batch_get, batch_list, batch_structure_totals, import_job_get, upload_guidance
from amiable.intake.services import import_job_create, import_job_progress
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
    form = BatchUploadForm(request.POST or None, request.FILES or None, user=request.user)
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
    return render(request, "intake/upload.html", {"form": form, **upload_guidance(user=request.user)})


def _job_context(request, pk) -> dict:
    try:
        job = import_job_get(user=request.user, pk=pk)
    except (ImportJob.DoesNotExist, ValueError) as exc:
        raise Http404("Import introuvable.") from exc
    progress = import_job_progress(job=job)
    percent = int(100 * progress["done"] / progress["total"]) if progress["total"] else 0
    return {
        "job": job,
        "progress": progress,
        "percent": percent,
        "finished": job.status in {ImportJobStatus.DONE, ImportJobStatus.FAILED},
    }


@login_required
@require_GET
def job_status(request: HttpRequest, pk) -> HttpResponse:
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
