from django.db.models import QuerySet

from amiable.approvals.models import ApprovalRequest, ApprovalStatus


def approval_list(*, user, pending_only: bool = False) -> QuerySet[ApprovalRequest]:
    qs = ApprovalRequest.objects.visible_to(user).select_related("case", "case__creditor", "asked_by", "decided_by")
    if pending_only:
        qs = qs.filter(status=ApprovalStatus.PENDING)
    return qs.order_by("status", "due_on", "-asked_at", "-pk")


def approvals_for_case(*, case) -> QuerySet[ApprovalRequest]:
    return (
        ApprovalRequest.objects.filter(case=case).select_related("asked_by", "decided_by").order_by("-asked_at", "-pk")
    )
