"""Sending the financial statement of a case to its creditor (C34): numbered, stored once, audited; and the
answer it makes to the creditor's statement request, registered in `creditor_requests` by
`PaymentsConfig.ready()`."""

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from amiable.accounts.permissions import require
from amiable.audit.services import audit_record
from amiable.cases.models import Case
from amiable.cases.services import case_lock
from amiable.core.dates import format_datetime
from amiable.core.money import format_money
from amiable.core.sequences import sequence_next
from amiable.creditor_requests.hooks import AutomaticAnswer
from amiable.creditor_requests.models import CreditorRequest
from amiable.payments.models import Statement
from amiable.payments.statement import statement_from_case, statement_pdf


@transaction.atomic
def statement_issue(*, case: Case, actor, request: CreditorRequest | None = None) -> Statement:
    """Draw up the statement of a case, number it (gap-free, DF-year-n) and store it once with its hash: the
    document of record the creditor received. The case row is locked so that no payment slips in between
    the figures. Agency staff or the case's creditor staff."""
    require(
        Case.objects.visible_to(actor).filter(pk=case.pk).exists(),
        "Vous n'avez pas accès à ce dossier.",
    )
    case = case_lock(case)
    statement = statement_from_case(case)
    issued_at = statement.drawn_at
    year = timezone.localtime(issued_at).year
    number = f"DF-{year}-{sequence_next(name='statement', year=year):06d}"
    pdf = statement_pdf(statement, number=number)
    document = Statement(
        number=number,
        case=case,
        request=request,
        issued_at=issued_at,
        issued_for=actor if getattr(actor, "is_authenticated", False) else None,
        claimed_amount=case.claimed_amount,
        paid_amount=statement.net_paid,
        balance=statement.balance,
        sha256=hashlib.sha256(pdf).hexdigest(),
    )
    document.pdf.save(f"{year}/{number}.pdf", ContentFile(pdf), save=False)
    try:
        document.save()
        audit_record(
            actor=actor,
            verb="statement.issued",
            target=document,
            creditor_pk=case.creditor_id,
            after={
                "number": number,
                "request": request.pk if request else None,
                "claimed": case.claimed_amount,
                "paid": statement.net_paid,
                "remitted": statement.remitted_total,
                "balance": statement.balance,
                "overpaid": statement.overpaid,
                "sha256": document.sha256,
            },
        )
    except BaseException:
        # The row is rolled back with the transaction: the file must not outlive it.
        document.pdf.delete(save=False)
        raise
    return document


def statement_answer(request: CreditorRequest, actor) -> AutomaticAnswer:
    """Answer a creditor's statement request with the statement itself (registered in `creditor_requests`
    by `PaymentsConfig.ready()`; called inside the request's transaction)."""
    document = statement_issue(case=request.case, actor=actor, request=request)
    text = (
        f"Décompte financier {document.number} du dossier {request.case.reference}, arrêté le "
        f"{format_datetime(document.issued_at)} : solde réclamé {format_money(document.claimed_amount)}, "
        f"payé {format_money(document.paid_amount)}, reste dû {format_money(document.balance)}. "
        "Le décompte détaillé est joint en PDF."
    )
    return AutomaticAnswer(text=text, url=reverse("payments:statement_document", args=[document.pk]))
