"""What happens when a case ends or comes back, whoever moved it (`cases.hooks`, inside `case_transition`'s
transaction): the closing decision is recorded, every action still running on the case stops, and the return
of the creditor's documents opens (C25); a reopened case gets its closure marked reopened, its certificate
revoked and its pending return withdrawn."""

from django.utils import timezone

from amiable.approvals.services import approvals_cancel_for_case
from amiable.audit.services import audit_record
from amiable.cases.models import Case, CaseStatus
from amiable.cases.services import tasks_cancel_open
from amiable.closure.models import CaseClosure, Certificate, ClosureKind, DocumentReturn, IrrecoverableReason
from amiable.contact.messaging import messages_cancel_pending
from amiable.contact.services import promises_cancel_for_case
from amiable.core.dates import add_months, format_date
from amiable.creditors.selectors import terms_for
from amiable.intake.models import BatchCase
from amiable.letters.models import Letter
from amiable.payments.models import Plan, Receipt, Statement
from amiable.payments.plans import plans_cancel_for_case

KIND_OF_STATUS = {
    CaseStatus.PAID: ClosureKind.PAID,
    CaseStatus.RECALLED: ClosureKind.RECALLED,
    CaseStatus.IRRECOVERABLE: ClosureKind.IRRECOVERABLE,
}


def _person(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def document_items(case: Case) -> list[dict]:
    """What the agency holds for the case and gives back (C25): the claim as the creditor sent it (its batch and
    line), then every document made on it — letters, receipts, plans, statements, certificates — oldest first."""
    items = []
    line = BatchCase.objects.filter(case=case).select_related("batch").first()
    if line is not None:
        items.append(
            {
                "label": f"Créance transmise (lot {line.batch.number}, ligne {line.line}, "
                f"reçu le {format_date(line.batch.received_at)})",
                "reference": line.batch.number,
            }
        )
    else:
        items.append(
            {"label": f"Créance transmise (reçue le {format_date(case.received_on)})", "reference": case.reference}
        )
    for letter in Letter.objects.filter(case=case).order_by("issued_on", "pk"):
        items.append(
            {"label": f"{letter.get_kind_display()} du {format_date(letter.issued_on)}", "reference": letter.number}
        )
    for receipt in Receipt.objects.filter(case=case).order_by("issued_on", "pk"):
        items.append(
            {"label": f"{receipt.get_kind_display()} du {format_date(receipt.issued_on)}", "reference": receipt.number}
        )
    for plan in Plan.objects.filter(case=case).exclude(pdf="").order_by("proposed_at", "pk"):
        items.append(
            {
                "label": f"Plan d'apurement du {format_date(plan.proposed_at)} ({plan.get_status_display().lower()})",
                "reference": plan.number,
            }
        )
    for statement in Statement.objects.filter(case=case).order_by("issued_at", "pk"):
        items.append(
            {"label": f"Décompte financier du {format_date(statement.issued_at)}", "reference": statement.number}
        )
    for certificate in Certificate.objects.filter(case=case, revoked_at__isnull=True).order_by("issued_on", "pk"):
        items.append(
            {
                "label": f"Certificat d'irrécouvrabilité du {format_date(certificate.issued_on)}",
                "reference": certificate.number,
            }
        )
    return items


def case_ended(*, case: Case, previous, actor, reason: str) -> None:
    """The case became « Soldé », « Retourné au créancier » or « Irrécouvrable ». The closure a service decided
    just before the move (an irrecoverable declaration with its evidence, an end-of-contract return) is kept;
    otherwise one is recorded from the status (a move made elsewhere to « Irrécouvrable » gets « autre motif »
    with the move's reason as evidence). Then tasks, requests for decision, plans, recovery messages and pending
    promises to pay stop (a settling payment keeps the promises it covers first), and the documents' return is
    due `documents_return_months` after the end."""
    now = timezone.now()
    closure = CaseClosure.objects.filter(case=case, reopened_at__isnull=True).first()
    if closure is None:
        kind = KIND_OF_STATUS[CaseStatus(case.status)]
        irrecoverable = kind == ClosureKind.IRRECOVERABLE
        closure = CaseClosure.objects.create(
            case=case,
            kind=kind,
            reason=IrrecoverableReason.OTHER if irrecoverable else "",
            evidence=(reason or "Sans précision") if irrecoverable else reason,
            ended_on=timezone.localdate(now),
            decided_by=_person(actor),
            decided_at=now,
        )
    why = f"Dossier {case.get_status_display().lower()}"
    stopped = {
        "tasks": tasks_cancel_open(case=case, actor=actor, reason=why),
        "approvals": approvals_cancel_for_case(case=case, actor=actor, reason=why),
        "plans": plans_cancel_for_case(case=case, actor=actor, reason=why),
        "messages": messages_cancel_pending(case=case, actor=actor, reason=why),
        "promises": promises_cancel_for_case(case=case, actor=actor, reason=why),
    }
    due_on = add_months(closure.ended_on, terms_for(case.creditor_id).documents_return_months)
    DocumentReturn.objects.update_or_create(
        case=case,
        defaults={
            "ended_on": closure.ended_on,
            "due_on": due_on,
            "items": document_items(case),
            "returned_on": None,
            "returned_by": None,
            "note": "",
        },
    )
    audit_record(
        actor=actor,
        verb="closure.recorded",
        target=closure,
        after={
            "kind": closure.kind,
            "reason": closure.reason,
            "evidence": closure.evidence[:500],
            "evidence_file_sha256": closure.evidence_file_sha256,
            "ended_on": closure.ended_on,
            "previous_status": str(previous),
            "stopped": stopped,
            "documents_due_on": due_on,
        },
    )


def case_reopened(*, case: Case, previous, actor, reason: str) -> None:
    """The case is open again (a reversal of the payment that settled it, a supervisor's reopening): its closure
    is marked reopened with the reason, its certificate revoked, and the return of its documents, not made,
    withdrawn — a new one opens when the case ends again."""
    now = timezone.now()
    closure = CaseClosure.objects.select_for_update().filter(case=case, reopened_at__isnull=True).first()
    if closure is None:
        return  # ended before closures were recorded
    closure.reopened_at = now
    closure.reopened_by = _person(actor)
    closure.reopen_reason = reason[:300]
    closure.save(update_fields=["reopened_at", "reopened_by", "reopen_reason"])
    revoked = None
    certificate = Certificate.objects.select_for_update().filter(closure=closure, revoked_at__isnull=True).first()
    if certificate is not None:
        certificate.revoked_at = now
        certificate.revoke_reason = reason[:300]
        certificate.save(update_fields=["revoked_at", "revoke_reason"])
        revoked = certificate.number
        audit_record(
            actor=actor,
            verb="certificate.revoked",
            target=certificate,
            after={"number": certificate.number, "reason": certificate.revoke_reason},
        )
    withdrawn = DocumentReturn.objects.filter(case=case, returned_on__isnull=True).first()
    if withdrawn is not None:
        withdrawn.delete()
    audit_record(
        actor=actor,
        verb="closure.reopened",
        target=closure,
        after={
            "kind": closure.kind,
            "reason": closure.reopen_reason,
            "status": case.status,
            "previous_status": str(previous),
            "certificate_revoked": revoked,
            "documents_return_withdrawn": withdrawn is not None,
        },
    )
