from django.db.models import QuerySet

from amiable.creditor_requests.models import CreditorRequest, RequestStatus


def request_list(*, user, open_only: bool = False) -> QuerySet[CreditorRequest]:
    qs = CreditorRequest.objects.visible_to(user).select_related("case", "creditor", "asked_by", "answered_by")
    if open_only:
        qs = qs.filter(status=RequestStatus.OPEN)
    return qs.prefetch_related("slots").order_by("due_at", "pk")


def request_get(*, user, pk: int) -> CreditorRequest:
    return CreditorRequest.objects.visible_to(user).select_related("case", "creditor", "asked_by").get(pk=pk)


def requests_for_case(*, case) -> QuerySet[CreditorRequest]:
    return (
        CreditorRequest.objects.filter(case=case).select_related("asked_by", "answered_by").order_by("-asked_at", "-pk")
    )
