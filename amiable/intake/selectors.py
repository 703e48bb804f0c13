"""Reads on batches and import jobs, through `visible_to`."""

from django.db.models import Count, QuerySet, Sum

from amiable.core.money import to_money
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


def import_job_get(*, user, pk) -> ImportJob:
    """A job is followed by the person who uploaded it, and by agency staff."""
    qs = ImportJob.objects.select_related("creditor", "batch")
    if not (user.is_authenticated and user.is_active):
        raise ImportJob.DoesNotExist
    if user.is_agency:
        return qs.get(pk=pk)
    return qs.get(pk=pk, requested_by=user, creditor_id=user.creditor_id)
