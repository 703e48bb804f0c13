"""Reads of the end of cases, always through `visible_to` (the case's, or the same scope on the closure's rows):
the cases whose certificate falls due, the documents to give back, a case's closing panel, the certificates."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from amiable.accounts.permissions import can_close_cases, can_work_cases
from amiable.cases.models import Case, CaseStatus
from amiable.closure.models import CaseClosure, Certificate, DocumentReturn
from amiable.core.scoping import scope_to_user

# The certificate falls due 12 months after receipt (C10): the page lists the cases due within this many days.
DUE_SOON_DAYS = 60
RETURN_STATES = {"pending": "À restituer", "late": "En retard", "returned": "Restituées"}


def certificates_due(*, user, within_days: int = DUE_SOON_DAYS, today: date | None = None) -> QuerySet[Case]:
    """Open cases whose certificate of irrecoverability is due within `within_days` days or overdue, the most
    urgent first."""
    today = today or timezone.localdate()
    return (
        Case.objects.visible_to(user)
        .open()
        .filter(certificate_due_on__isnull=False, certificate_due_on__lte=today + timedelta(days=within_days))
        .select_related("creditor", "structure", "debtor")
        .order_by("certificate_due_on", "pk")
    )


def _returns(user) -> QuerySet[DocumentReturn]:
    return scope_to_user(
        DocumentReturn.objects.all(), user, creditor_field="case__creditor_id", structure_field="case__structure_id"
    )


def document_return_list(*, user, state: str = "", today: date | None = None) -> QuerySet[DocumentReturn]:
    """The documents to give back (C25): all, or those still to return (« pending »), late, or returned."""
    today = today or timezone.localdate()
    qs = _returns(user).select_related("case__creditor", "case__structure", "case__debtor", "returned_by")
    if state == "pending":
        qs = qs.filter(returned_on__isnull=True)
    elif state == "late":
        qs = qs.filter(returned_on__isnull=True, due_on__lt=today)
    elif state == "returned":
        qs = qs.filter(returned_on__isnull=False)
    return qs.order_by("returned_on", "due_on", "pk") if state != "returned" else qs.order_by("-returned_on", "-pk")


def document_return_get(*, user, pk: int) -> DocumentReturn:
    return _returns(user).select_related("case").get(pk=pk)


def certificate_list(*, user) -> QuerySet[Certificate]:
    """The certificates the person may see, the latest first."""
    return (
        scope_to_user(
            Certificate.objects.all(), user, creditor_field="case__creditor_id", structure_field="case__structure_id"
        )
        .select_related("case__structure", "case__debtor")
        .order_by("-issued_on", "-pk")
    )


def certificate_get(*, user, pk: int) -> Certificate:
    return certificate_list(user=user).get(pk=pk)


def closure_get(*, user, pk: int) -> CaseClosure:
    return scope_to_user(
        CaseClosure.objects.select_related("case"),
        user,
        creditor_field="case__creditor_id",
        structure_field="case__structure_id",
    ).get(pk=pk)


@dataclass(frozen=True)
class ClosurePanel:
    """What the case page shows of the case's end, and which of the moves the person may make."""

    closure: CaseClosure | None
    certificates: list[Certificate]
    document_return: DocumentReturn | None
    may_close: bool
    may_lift: bool
    may_declare: bool
    may_reopen: bool
    may_end_contract: bool
    may_mark_returned: bool

    @property
    def shown(self) -> bool:
        return bool(self.closure or self.certificates or self.document_return or self.may_close)


def case_closure_panel(*, case: Case, user) -> ClosurePanel:
    """One query for an open case (its certificates, revoked ones after a reopening), three for an ended one."""
    ended = case.status in CaseStatus.ENDED
    closure = (
        CaseClosure.objects.filter(case=case, reopened_at__isnull=True).select_related("decided_by").first()
        if ended
        else None
    )
    certificates = list(Certificate.objects.filter(case=case).order_by("-issued_on", "-pk"))
    document_return = DocumentReturn.objects.filter(case=case).first() if ended else None
    may_close = can_close_cases(user)
    current = any(c.revoked_at is None and closure and c.closure_id == closure.pk for c in certificates)
    return ClosurePanel(
        closure=closure,
        certificates=certificates,
        document_return=document_return,
        may_close=may_close,
        may_lift=may_close and case.status == CaseStatus.SUSPENDED,
        may_declare=may_close
        and (case.status in CaseStatus.OPEN or (case.status == CaseStatus.IRRECOVERABLE and not current)),
        may_reopen=may_close and case.status == CaseStatus.IRRECOVERABLE,
        may_end_contract=may_close and case.status in CaseStatus.OPEN,
        may_mark_returned=can_work_cases(user) and document_return is not None and document_return.returned_on is None,
    )
