"""The refresh of the dashboards' rollup (`StatsRollup`), run per creditor by `refresh_statistics` in the
daily run: the creditor's rows are replaced in one transaction, so that a home page reads either the old
figures or the new ones, never half of each."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from amiable.creditors.models import Creditor
from amiable.reporting.models import StatsRollup
from amiable.reporting.rollup import rollup_compute


@transaction.atomic
def stats_refresh(*, creditor: Creditor, today: date | None = None, actor=None) -> int:
    """Recompute the creditor's figures (a constant number of queries whatever its number of cases), delete
    its old rows and write the new ones; returns the number of rows. Derived from the audited business data,
    it is itself not audited (`actor` is kept for the convention: the system or the person who asked)."""
    now = timezone.now()
    today = today or timezone.localdate(now)
    rows = rollup_compute(creditor_id=creditor.pk, today=today, refreshed_at=now)
    StatsRollup.objects.filter(creditor_id=creditor.pk).delete()
    StatsRollup.objects.bulk_create(rows, batch_size=500)
    return len(rows)
