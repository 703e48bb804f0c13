from django.db.models import Count, QuerySet

from amiable.creditor_requests.models import CreditorRequest, RequestStatus


def request_list(*, user, open_only: bool = False) -> QuerySet[CreditorRequest]:
    qs = CreditorRequest.objects.visible_to(user).select_related("case", "creditor", "asked_by", "answered_by")
    if open_only:
        qs = qs.filter(status=RequestStatus.OPEN)
    return qs.prefetch_related("slots").order_by("due_at", "pk")


# The requests page's filters, as written in its URL (`?etat=traitees`), with the order of each: the soonest due
# first while a request waits for its answer, the latest first once it is over.
STATUS_FILTERS = {
    "ouvertes": (RequestStatus.OPEN, ("due_at", "pk")),
    "traitees": (RequestStatus.ANSWERED, ("-due_at", "-pk")),
    "annulees": (RequestStatus.CANCELLED, ("-due_at", "-pk")),
}


def request_list_filtered(*, user, status_filter: str) -> QuerySet[CreditorRequest]:
    """The requests of one filter of the requests page (an unknown filter is the open ones)."""
    status, order = STATUS_FILTERS.get(status_filter, STATUS_FILTERS["ouvertes"])
    return (
        CreditorRequest.objects.visible_to(user)
        .filter(status=status)
        .select_related("case", "creditor", "asked_by", "answered_by")
        .prefetch_related("slots")
        .order_by(*order)
    )


def request_counts(*, user) -> dict[str, int]:
    """How many requests each filter holds, in one query."""
    rows = CreditorRequest.objects.visible_to(user).values("status").annotate(n=Count("pk")).order_by()
    by_status = {r["status"]: r["n"] for r in rows}
    return {key: by_status.get(status, 0) for key, (status, _) in STATUS_FILTERS.items()}


def request_get(*, user, pk: int) -> CreditorRequest:
    return CreditorRequest.objects.visible_to(user).select_related("case", "creditor", "asked_by").get(pk=pk)


def requests_for_case(*, case) -> QuerySet[CreditorRequest]:
    return (
        CreditorRequest.objects.filter(case=case).select_related("asked_by", "answered_by").order_by("-asked_at", "-pk")
    )
