"""Reads on batches and import jobs, through `visible_to`."""

from django.db.models import Count, Prefetch, QuerySet, Sum

from amiable.core.exceptions import ApplicationError
from amiable.core.money import to_money
from amiable.creditors.models import ContractTerms, Creditor, Structure
from amiable.creditors.selectors import agency_get
from amiable.intake.models import Batch, BatchCase, ImportJob


def batch_list(*, user) -> QuerySet[Batch]:
    return Batch.objects.visible_to(user).select_related("creditor", "received_by").order_by("-received_at", "-pk")


def batch_get(*, user, pk: int) -> Batch:
    return Batch.objects.visible_to(user).select_related("creditor", "received_by", "default_structure").get(pk=pk)


def batch_structure_totals(*, batch: Batch) -> list[dict]:
    """Claims taken in charge and their balance per structure (C1)."""
    rows = (
        BatchCase.objects.filter(batch=batch)
        .values("case__structure__code", "case__structure__name")
        .annotate(count=Count("pk"), total=Sum("case__principal_amount"))
        .order_by("case__structure__code")
    )
    return [
        {
            "code": r["case__structure__code"],
            "name": r["case__structure__name"],
            "count": r["count"],
            "total": to_money(r["total"]),
        }
        for r in rows
    ]


def batch_cases(*, batch: Batch) -> QuerySet[BatchCase]:
    """The cases a batch opened, in the order of the file's lines (a batch is seen only by those who may see
    all its creditor's cases: no further scoping)."""
    return (
        BatchCase.objects.filter(batch=batch)
        .select_related("case", "case__debtor", "case__structure")
        .only(
            "line",
            "case__id",
            "case__reference",
            "case__status",
            "case__principal_amount",
            "case__debtor__civility",
            "case__debtor__last_name",
            "case__debtor__first_name",
            "case__structure__code",
        )
        .order_by("line")
    )


def import_job_get(*, user, pk) -> ImportJob:
    """A job is followed by the person who uploaded it, and by agency staff."""
    qs = ImportJob.objects.select_related("creditor", "batch")
    if not (user.is_authenticated and user.is_active):
        raise ImportJob.DoesNotExist
    if user.is_agency:
        return qs.get(pk=pk)
    return qs.get(pk=pk, requested_by=user, creditor_id=user.creditor_id)


def upload_guidance(*, user, creditor: Creditor | None = None) -> dict:
    """What the upload page tells about each creditor the person may transmit for, read from its terms and
    structures: whether its batches must be encrypted and signed (C5), and its structure codes; with the
    agency key's fingerprint, for the creditor to check the key it encrypts for."""
    creditors = Creditor.objects.visible_to(user).filter(is_active=True)
    if creditor is not None:  # the creditor the page transmits for: only its terms and structures
        creditors = creditors.filter(pk=creditor.pk)
    creditors = creditors.prefetch_related(
        Prefetch(
            "structures",
            queryset=Structure.objects.filter(is_active=True).order_by("code"),
            to_attr="active_structures",
        )
    ).order_by("name")
    terms = {t.creditor_id: t for t in ContractTerms.objects.filter(creditor__in=creditors)}
    try:
        fingerprint = agency_get().key_fingerprint_display
    except ApplicationError:
        fingerprint = ""
    return {
        "agency_fingerprint": fingerprint,
        "policies": [
            {
                "creditor": creditor,
                "require_encryption": bool(terms.get(creditor.pk) and terms[creditor.pk].require_encryption),
                "require_signature": bool(terms.get(creditor.pk) and terms[creditor.pk].require_signature),
                "structures": creditor.active_structures,
            }
            for creditor in creditors
        ],
    }
