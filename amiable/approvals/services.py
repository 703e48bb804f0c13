"""Asking the creditor for a decision and recording it (C16, C19, C30, C42)."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from amiable.accounts.permissions import can_decide, can_work_cases, require
from amiable.approvals.hooks import decision_hooks_run
from amiable.approvals.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from amiable.audit.services import audit_record
from amiable.cases.models import Case
from amiable.core.dates import add_business_days
from amiable.core.exceptions import ApplicationError
from amiable.notifications.selectors import agency_contacts, creditor_staff
from amiable.notifications.services import notify

DEFAULT_DELAY_BUSINESS_DAYS = 5


@transaction.atomic
def approval_request(*, case: Case, kind: str, proposal: str, actor, due_on: date | None = None) -> ApprovalRequest:
    """The agency asks the creditor to decide; the creditor's approvers are told at once (urgent)."""
    require(can_work_cases(actor), "Seule l'agence peut demander une décision au créancier.")
    if kind not in ApprovalKind.values:
        raise ApplicationError(f"Objet de décision inconnu : « {kind} ».")
    proposal = proposal.strip()
    if not proposal:
        raise ApplicationError("Décrivez la proposition soumise au créancier.")
    case = Case.objects.select_for_update().get(pk=case.pk)
    if not case.is_open:
        raise ApplicationError(f"Le dossier {case.reference} est terminé : aucune décision ne peut être demandée.")
    today = timezone.localdate()
    due_on = due_on or add_business_days(today, DEFAULT_DELAY_BUSINESS_DAYS)
    if due_on < today:
        raise ApplicationError("La date de réponse souhaitée est passée.")
    approval = ApprovalRequest.objects.create(
        case=case, kind=kind, proposal=proposal, asked_by=actor, asked_at=timezone.now(), due_on=due_on
    )
    audit_record(
        actor=actor,
        verb="approval.requested",
        target=approval,
        after={"kind": kind, "proposal": proposal[:500], "due_on": due_on},
    )
    notify(
        recipients=creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id, deciders_only=True),
        kind="approval_requested",
        title=f"Décision attendue sur le dossier {case.reference} : {approval.kind_label}",
        body=proposal[:300],
        url="/validations/",
        case_pk=case.pk,
        urgent=True,
    )
    return approval


@transaction.atomic
def approval_decide(*, approval: ApprovalRequest, accept: bool, comment: str, actor) -> ApprovalRequest:
    """A creditor approver (or admin) of the case's creditor accepts or refuses, with a comment."""
    approval = ApprovalRequest.objects.select_for_update().select_related("case", "case__creditor").get(pk=approval.pk)
    case = approval.case
    require(
        can_decide(actor, case.creditor_id) and Case.objects.visible_to(actor).filter(pk=case.pk).exists(),
        "Seuls les valideurs du créancier peuvent prendre cette décision.",
    )
    if approval.status != ApprovalStatus.PENDING:
        raise ApplicationError(f"Cette demande a déjà été traitée ({approval.get_status_display().lower()}).")
    comment = comment.strip()
    if not accept and not comment:
        raise ApplicationError("Indiquez le motif du refus.", extra={"field": "comment"})
    approval.status = ApprovalStatus.ACCEPTED if accept else ApprovalStatus.REFUSED
    approval.decided_by = actor
    approval.decided_at = timezone.now()
    approval.decision_comment = comment
    approval.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
    audit_record(
        actor=actor,
        verb="approval.decided",
        target=approval,
        before={"status": ApprovalStatus.PENDING},
        after={"status": approval.status, "comment": comment[:500]},
    )
    # What the decision starts in the apps above (a long plan becomes active or refused), in this transaction.
    decision_hooks_run(approval=approval, actor=actor)
    notify(
        recipients=[approval.asked_by, *agency_contacts(case=case)],
        kind="approval_decided",
        title=f"Le créancier a {'accepté' if accept else 'refusé'} : {approval.kind_label} ({case.reference})",
        body=comment[:300],
        url=f"/dossiers/{case.pk}/#decisions",
        case_pk=case.pk,
    )
    return approval


def approvals_cancel_for_case(*, case: Case, actor, reason: str) -> int:
    """Cancel the pending requests of a case (recall, closure); must run inside the caller's transaction."""
    count = 0
    for approval in ApprovalRequest.objects.select_for_update().filter(case=case, status=ApprovalStatus.PENDING):
        approval.status = ApprovalStatus.CANCELLED
        approval.decision_comment = reason
        approval.save(update_fields=["status", "decision_comment"])
        audit_record(
            actor=actor,
            verb="approval.cancelled",
            target=approval,
            before={"status": "pending"},
            after={"status": "cancelled", "reason": reason},
        )
        decision_hooks_run(approval=approval, actor=actor)
        count += 1
    return count
