"""A paginator that never counts more than it must: lists that may hold a million rows show « plus de 10 000 » rather
than pay a full `COUNT(*)` on every page."""

from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import QuerySet

COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most `cap` + 1 rows (`SELECT COUNT(*) FROM (… LIMIT cap + 1)`, a walk of the index that stops
    early). Beyond, `capped` is true, `count` is `cap` and the pages stop there: whoever needs the rows after
    the 10 000th narrows the filters, or exports. Pages are fetched by offset, bounded by the cap."""

    def __init__(self, object_list, per_page, *, cap: int | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = COUNT_CAP if cap is None else cap

    @cached_property
    def _bounded_count(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet):
            # Only the ids: neither the joins of select_related nor the annotated columns (the list's « prochaine
            # action », two subqueries a row) are worth computing for up to 10 001 rows that are only counted.
            rows = rows.order_by().values("pk")
        return rows[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._bounded_count, self.cap)

    @property
    def capped(self) -> bool:
        return self._bounded_count > self.cap
