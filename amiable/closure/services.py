"""How a supervisor ends a case or brings it back (C10, C24, C25, C36): an irrecoverable declaration with its
evidence and its certificate, the return of a case at the end of the contract, the lifting of a suspension,
the reopening of an irrecoverable case, and the confirmation that the creditor's documents were given back.
Every move goes through `case_transition` (its table of allowed moves), and what follows any ending — the
closure, the actions stopped, the documents' return — is done by `closure.ending` through `cases.hooks`."""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from amiable.accounts.permissions import can_close_cases, can_work_cases, require
from amiable.audit.services import audit_record
from amiable.cases.models import Case, CaseStatus
from amiable.cases.services import case_lock, case_transition
from amiable.closure.certificates import (
    certificate_html,
    certificate_number,
    certificate_pdf,
    certificate_steps,
    certificate_store,
)
from amiable.closure.ending import document_items
from amiable.closure.models import CaseClosure, Certificate, ClosureKind, DocumentReturn, IrrecoverableReason
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.notifications.selectors import creditor_staff
from amiable.notifications.services import notify
from amiable.payments.plans import plan_running

SUPERVISORS_ONLY = "Seuls les superviseurs et administrateurs de l'agence peuvent {what}."
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _reason(text: str, message: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise ApplicationError(message)
    return text[:300]


def _tell_creditor(case: Case, *, kind: str, title: str, body: str = "", url: str = "") -> None:
    notify(
        recipients=creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id),
        kind=kind,
        title=title,
        body=body[:300],
        url=url or f"/dossiers/{case.pk}/#fin",
        case_pk=case.pk,
    )


# --- irrecoverable: the declaration and its certificate ------------------------------------------------------


def _store_evidence(closure: CaseClosure, evidence_file, *, written: list) -> None:
    """Store the uploaded evidence on the closure; the file it replaces, if any, is deleted once the new one is
    committed (nothing else points to it), and the new one is listed in `written` to go if the declaration fails."""
    data = evidence_file.read()
    if len(data) > EVIDENCE_MAX_BYTES:
        raise ApplicationError("La pièce justificative dépasse 10 Mo.")
    if not data:
        raise ApplicationError("La pièce justificative est vide.")
    closure.evidence_file_sha256 = hashlib.sha256(data).hexdigest()
    name = _UNSAFE.sub("-", getattr(evidence_file, "name", "") or "piece").strip("-.")[-80:] or "piece"
    replaced = closure.evidence_file.name if closure.evidence_file else ""
    closure.evidence_file.save(
        f"{closure.case_id}-{closure.evidence_file_sha256[:12]}-{name}", ContentFile(data), save=False
    )
    written.append(closure.evidence_file.name)
    if replaced and replaced != closure.evidence_file.name:
        transaction.on_commit(partial(_delete_unreferenced_evidence, closure.evidence_file.storage, replaced))


def _delete_unreferenced_evidence(storage, name: str) -> None:
    if not CaseClosure.objects.filter(evidence_file=name).exists():
        storage.delete(name)


def _certificate_issue(*, case: Case, closure: CaseClosure, actor, written: list) -> Certificate:
    """Number, draw, store and record the certificate of the case as it stands now (C10, C36)."""
    case.refresh_from_db(fields=["paid_amount", "claimed_amount", "balance", "overpaid_amount", "status"])
    issued_on = timezone.localdate()
    certificate = Certificate(
        number=certificate_number(issued_on),
        case=case,
        closure=closure,
        reason=closure.reason,
        claimed_amount=case.claimed_amount,
        recovered_amount=case.recovered_amount,
        remaining_amount=case.balance,
        issued_on=issued_on,
        issued_by=actor,
    )
    steps = certificate_steps(case=case)
    pdf = certificate_pdf(
        certificate_html(certificate=certificate, case=case, closure=closure, steps=steps, issued_by=actor)
    )
    certificate.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    certificate_store(certificate, pdf)
    written.append(certificate.pdf.name)
    certificate.save()
    DocumentReturn.objects.filter(case=case, returned_on__isnull=True).update(items=document_items(case))
    audit_record(
        actor=actor,
        verb="certificate.issued",
        target=certificate,
        creditor_pk=case.creditor_id,
        after={
            "number": certificate.number,
            "reason": certificate.reason,
            "claimed": certificate.claimed_amount,
            "recovered": certificate.recovered_amount,
            "remaining": certificate.remaining_amount,
            "steps": len(steps),
            "sha256": certificate.pdf_sha256,
        },
    )
    _tell_creditor(
        case,
        kind="certificate_issued",
        title=f"Certificat d'irrécouvrabilité {certificate.number} — dossier {case.reference}",
        body=IrrecoverableReason(certificate.reason).label,
    )
    return certificate


@transaction.atomic
def case_declare_irrecoverable(*, case: Case, reason: str, evidence: str, actor, evidence_file=None) -> Certificate:
    """Declare a case irrecoverable (C10) with its reason and evidence — the text required, a file optional,
    kept with its SHA-256 — and issue its certificate, in one transaction: the case closes without commission
    (C24). Declaring a case already declared returns its certificate; a case made irrecoverable without one
    (before certificates existed) gets its reason, evidence and certificate now.
    The files written here (the evidence, the certificate) are deleted if anything in the declaration fails, down
    to the creditor's notification: the rows go with the transaction, the files must not outlive them."""
    require(can_close_cases(actor), SUPERVISORS_ONLY.format(what="déclarer un dossier irrécouvrable"))
    written: list[str] = []
    try:
        return _declare_irrecoverable(
            case=case, reason=reason, evidence=evidence, actor=actor, evidence_file=evidence_file, written=written
        )
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def _declare_irrecoverable(*, case: Case, reason: str, evidence: str, actor, evidence_file, written: list):
    case = case_lock(case)
    current = CaseClosure.objects.filter(case=case, reopened_at__isnull=True).first()
    if case.status == CaseStatus.IRRECOVERABLE and current is not None:
        existing = Certificate.objects.filter(closure=current, revoked_at__isnull=True).first()
        if existing is not None:
            return existing
    if reason not in IrrecoverableReason.values:
        raise ApplicationError("Choisissez le motif d'irrécouvrabilité.")
    evidence = (evidence or "").strip()
    if not evidence:
        raise ApplicationError("Décrivez le justificatif de l'irrécouvrabilité (démarches, pièces, constats).")
    if len(evidence) > 5000:
        raise ApplicationError("Le justificatif dépasse 5 000 caractères.")
    if case.status == CaseStatus.IRRECOVERABLE and current is not None:
        closure = CaseClosure.objects.select_for_update().get(pk=current.pk)
        closure.reason, closure.evidence = reason, evidence
        if evidence_file is not None:
            _store_evidence(closure, evidence_file, written=written)
        closure.save()
        audit_record(
            actor=actor,
            verb="closure.recorded",
            target=closure,
            after={"kind": closure.kind, "reason": reason, "evidence": evidence[:500], "ended_on": closure.ended_on},
        )
    elif case.status in CaseStatus.OPEN:
        now = timezone.now()
        closure = CaseClosure(
            case=case,
            kind=ClosureKind.IRRECOVERABLE,
            reason=reason,
            evidence=evidence,
            ended_on=timezone.localdate(now),
            decided_by=actor,
            decided_at=now,
        )
        if evidence_file is not None:
            _store_evidence(closure, evidence_file, written=written)
        closure.save()
        case = case_transition(
            case=case, to=CaseStatus.IRRECOVERABLE, actor=actor, reason=IrrecoverableReason(reason).label
        )
    else:
        raise ApplicationError(
            f"Le dossier {case.reference} est « {case.get_status_display().lower()} » : "
            "il ne peut pas être déclaré irrécouvrable."
        )
    return _certificate_issue(case=case, closure=closure, actor=actor, written=written)


@dataclass
class BulkOutcome:
    """What a bulk declaration did: the certificates issued, and each case refused with its reason."""

    issued: list[Certificate] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def certificates_issue_bulk(*, case_ids: list[int], reason: str, evidence: str, actor) -> BulkOutcome:
    """Declare a selection of cases irrecoverable with one reason and one evidence text: each case gets its own
    certificate in its own transaction, so that one refused case is reported and the others go on."""
    require(can_close_cases(actor), SUPERVISORS_ONLY.format(what="déclarer un dossier irrécouvrable"))
    outcome = BulkOutcome()
    if not case_ids:
        raise ApplicationError("Cochez au moins un dossier.")
    cases = {c.pk: c for c in Case.objects.visible_to(actor).filter(pk__in=case_ids)}
    for pk in sorted(set(case_ids)):
        case = cases.get(pk)
        if case is None:
            outcome.failed.append((f"n° {pk}", "dossier introuvable"))
            continue
        try:
            with transaction.atomic():
                outcome.issued.append(
                    case_declare_irrecoverable(case=case, reason=reason, evidence=evidence, actor=actor)
                )
        except ApplicationError as exc:
            outcome.failed.append((case.reference, exc.message))
    return outcome


# --- the other moves ---------------------------------------------------------------------------------------


@transaction.atomic
def case_end_of_contract(*, case: Case, reason: str, actor) -> Case:
    """Give an open case back to the creditor at the end of the contract (C26): it becomes « retourné au
    créancier » as after a recall, so that only what was recovered before bears commission (C13)."""
    require(can_close_cases(actor), SUPERVISORS_ONLY.format(what="restituer un dossier en fin de contrat"))
    reason = _reason(reason, "Indiquez le motif de la restitution du dossier.")
    case = case_lock(case)
    if case.status not in CaseStatus.OPEN:
        raise ApplicationError(f"Le dossier {case.reference} est déjà terminé ({case.get_status_display().lower()}).")
    now = timezone.now()
    CaseClosure.objects.create(
        case=case,
        kind=ClosureKind.END_OF_CONTRACT,
        evidence=reason,
        ended_on=timezone.localdate(now),
        decided_by=actor,
        decided_at=now,
    )
    case = case_transition(case=case, to=CaseStatus.RECALLED, actor=actor, reason=f"Fin de contrat : {reason}")
    case.recalled_at = case.status_changed_at
    case.save(update_fields=["recalled_at"])
    _tell_creditor(
        case, kind="case_end_of_contract", title=f"Dossier {case.reference} restitué en fin de contrat", body=reason
    )
    return case


@transaction.atomic
def case_suspension_lift(*, case: Case, reason: str, actor) -> Case:
    """Lift a suspension (an over-indebtedness file, a death, a dispute… once resolved): the case goes back
    « en cours », or « plan d'apurement » when a plan still runs."""
    require(can_close_cases(actor), SUPERVISORS_ONLY.format(what="lever une suspension"))
    reason = _reason(reason, "Indiquez le motif de la levée de la suspension.")
    case = case_lock(case)
    if case.status != CaseStatus.SUSPENDED:
        raise ApplicationError(f"Le dossier {case.reference} n'est pas suspendu ({case.get_status_display().lower()}).")
    to = CaseStatus.PAYMENT_PLAN if plan_running(case) is not None else CaseStatus.IN_PROGRESS
    case = case_transition(case=case, to=to, actor=actor, reason=f"Levée de la suspension : {reason}")
    audit_record(actor=actor, verb="case.suspension_lifted", target=case, after={"reason": reason, "status": to.value})
    return case


@transaction.atomic
def case_reopen(*, case: Case, reason: str, actor) -> Case:
    """Reopen an irrecoverable case (the debtor found, new means): back « en cours », its certificate revoked
    with the reason, its documents' return withdrawn if not made. The creditor is told."""
    require(can_close_cases(actor), SUPERVISORS_ONLY.format(what="rouvrir un dossier"))
    reason = _reason(reason, "Indiquez le motif de la réouverture du dossier.")
    case = case_lock(case)
    if case.status != CaseStatus.IRRECOVERABLE:
        raise ApplicationError(
            f"Seul un dossier irrécouvrable se rouvre : le dossier {case.reference} est "
            f"« {case.get_status_display().lower()} »."
        )
    taken = Case.objects.open().filter(creditor_id=case.creditor_id, reference=case.reference).exclude(pk=case.pk)
    if taken.exists():
        raise ApplicationError(
            f"Un dossier ouvert porte déjà la référence {case.reference} : rouvrir celui-ci en ferait deux."
        )
    try:
        with transaction.atomic():
            case = case_transition(case=case, to=CaseStatus.IN_PROGRESS, actor=actor, reason=f"Réouverture : {reason}")
    except IntegrityError as exc:  # the same reference opened concurrently
        raise ApplicationError(f"Un dossier ouvert porte déjà la référence {case.reference}.") from exc
    _tell_creditor(case, kind="case_reopened", title=f"Dossier {case.reference} rouvert", body=reason)
    return case


# --- the documents' return ---------------------------------------------------------------------------------


@transaction.atomic
def document_return_mark(
    *, document_return: DocumentReturn, returned_on: date, actor, note: str = ""
) -> DocumentReturn:
    """Record that the creditor's documents were given back (C25): the list is drawn up once more, so that it
    holds every document made up to the return, and the case becomes « clos »."""
    require(can_work_cases(actor), "Seule l'agence enregistre la restitution des pièces.")
    document_return = DocumentReturn.objects.select_for_update().select_related("case").get(pk=document_return.pk)
    case = document_return.case
    if document_return.returned_on is not None:
        raise ApplicationError(
            f"Les pièces du dossier {case.reference} sont déjà restituées "
            f"(le {format_date(document_return.returned_on)})."
        )
    if returned_on > timezone.localdate():
        raise ApplicationError("La date de restitution ne peut pas être dans le futur.")
    if returned_on < document_return.ended_on:
        raise ApplicationError(
            f"La date de restitution précède la fin du dossier ({format_date(document_return.ended_on)})."
        )
    document_return.returned_on = returned_on
    document_return.returned_by = actor
    document_return.note = " ".join((note or "").split())[:300]
    document_return.items = document_items(case)
    document_return.save(update_fields=["returned_on", "returned_by", "note", "items"])
    case_transition(case=case, to=CaseStatus.CLOSED, actor=actor, reason="Pièces restituées au créancier")
    audit_record(
        actor=actor,
        verb="documents.returned",
        target=document_return,
        after={
            "returned_on": returned_on,
            "due_on": document_return.due_on,
            "on_time": returned_on <= document_return.due_on,
            "note": document_return.note,
            "items": [item["reference"] for item in document_return.items],
        },
    )
    _tell_creditor(
        case,
        kind="documents_returned",
        title=f"Pièces du dossier {case.reference} restituées le {format_date(returned_on)}",
    )
    return document_return
