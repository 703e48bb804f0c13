"""What the collaborative parts of a case page and the inboxes show to one person."""

from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from amiable.accounts.permissions import can_decide
from amiable.approvals.models import ApprovalRequest, ApprovalStatus
from amiable.approvals.selectors import approvals_for_case
from amiable.cases.models import Case, CaseReadMarker, Comment
from amiable.creditor_requests.models import CreditorRequest, RequestStatus
from amiable.creditor_requests.selectors import requests_for_case
from amiable.notifications.selectors import unread_count


def case_comments(*, case: Case, user) -> list[Comment]:
    """The thread of a case in time order; internal notes only for agency staff; `unread` marks messages
    by others posted since the person last opened the case."""
    comments = (
        Comment.objects.filter(case=case).select_related("author", "author__creditor").order_by("created_at", "pk")
    )
    if not user.is_agency:
        comments = comments.filter(internal=False)
    marker = CaseReadMarker.objects.filter(case=case, user=user).values_list("read_at", flat=True).first()
    result = list(comments)
    for comment in result:
        comment.unread = comment.author_id != user.pk and (marker is None or comment.created_at > marker)
    return result


def case_collaboration(*, case: Case, user) -> dict:
    return {
        "comments": case_comments(case=case, user=user),
        "approvals": list(approvals_for_case(case=case)),
        "requests": list(requests_for_case(case=case).prefetch_related("slots")),
    }


def unread_comment_cases(*, user, limit: int = 10) -> list[Case]:
    """Cases with messages from the other side posted since the person last opened them."""
    other_side = Q(author__creditor__isnull=False) if user.is_agency else Q(author__creditor__isnull=True)
    last_message = (
        Comment.objects.filter(other_side, case=OuterRef("pk"), internal=False)
        .exclude(author=user)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    read_at = CaseReadMarker.objects.filter(case=OuterRef("pk"), user=user).values("read_at")[:1]
    return list(
        Case.objects.visible_to(user)
        .annotate(last_message=Subquery(last_message), read_at=Subquery(read_at))
        .filter(last_message__isnull=False)
        .filter(Q(read_at__isnull=True) | Q(last_message__gt=F("read_at")))
        .select_related("structure", "debtor")
        .order_by("-last_message", "-pk")[:limit]
    )


def awaiting_me(*, user) -> dict:
    """The counters of « ce qui m'attend » on the home pages."""
    data = {"notifications": unread_count(user=user)}
    if user.is_creditor_user:
        approvals = ApprovalRequest.objects.visible_to(user).filter(status=ApprovalStatus.PENDING)
        data["approvals"] = approvals.count() if can_decide(user) else 0
        data["approvals_seen"] = approvals.count()
        data["requests_open"] = CreditorRequest.objects.visible_to(user).filter(status=RequestStatus.OPEN).count()
    else:
        data["requests_open"] = CreditorRequest.objects.filter(status=RequestStatus.OPEN).count()
        data["requests_late"] = CreditorRequest.objects.filter(
            status=RequestStatus.OPEN, due_at__lt=timezone.now()
        ).count()
        data["approvals_answered"] = ApprovalRequest.objects.filter(
            asked_by=user, status__in=[ApprovalStatus.ACCEPTED, ApprovalStatus.REFUSED]
        ).count()
    return data
