"""What the collaborative parts of a case page and the inboxes show to one person."""

from django.db.models import Count, Q
from django.utils import timezone

from amiable.accounts.permissions import can_decide
from amiable.approvals.models import ApprovalRequest, ApprovalStatus
from amiable.approvals.selectors import approvals_for_case
from amiable.cases.models import Case, CaseReadMarker, Comment
from amiable.core.scoping import scope_to_user
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


# How many of the latest messages the home looks through for unread ones: a walk of the comments by date that
# stops there, whatever the number of cases (older unread messages stay in « Ma journée » and on the case page).
UNREAD_WINDOW = 200


def unread_comment_cases(*, user, limit: int = 10) -> list[Case]:
    """Cases with messages from the other side posted since the person last opened them, most recent first,
    among the latest `UNREAD_WINDOW` such messages the person may see. Three queries whatever the data."""
    other_side = Q(author__creditor__isnull=False) if user.is_agency else Q(author__creditor__isnull=True)
    messages = scope_to_user(
        Comment.objects.filter(other_side, internal=False).exclude(author=user),
        user,
        creditor_field="case__creditor_id",
        structure_field="case__structure_id",
    )
    latest: dict[int, object] = {}
    for case_id, created_at in messages.order_by("-created_at", "-pk").values_list("case_id", "created_at")[
        :UNREAD_WINDOW
    ]:
        latest.setdefault(case_id, created_at)
    read = dict(CaseReadMarker.objects.filter(user=user, case_id__in=list(latest)).values_list("case_id", "read_at"))
    unread = [pk for pk, at in latest.items() if read.get(pk) is None or at > read[pk]][:limit]
    cases = Case.objects.visible_to(user).filter(pk__in=unread).select_related("structure", "debtor").in_bulk()
    return [cases[pk] for pk in unread if pk in cases]


def awaiting_me(*, user) -> dict:
    """The counters of « ce qui m'attend » on the home pages."""
    data = {"notifications": unread_count(user=user)}
    if user.is_creditor_user:
        pending = ApprovalRequest.objects.visible_to(user).filter(status=ApprovalStatus.PENDING).count()
        data["approvals"] = pending if can_decide(user) else 0
        data["approvals_seen"] = pending
        data["requests_open"] = CreditorRequest.objects.visible_to(user).filter(status=RequestStatus.OPEN).count()
    else:
        # Open and late requests in one query.
        data |= CreditorRequest.objects.filter(status=RequestStatus.OPEN).aggregate(
            requests_open=Count("pk"), requests_late=Count("pk", filter=Q(due_at__lt=timezone.now()))
        )
        data["approvals_answered"] = ApprovalRequest.objects.filter(
            asked_by=user, status__in=[ApprovalStatus.ACCEPTED, ApprovalStatus.REFUSED]
        ).count()
    return data
