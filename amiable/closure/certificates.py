"""The certificate of irrecoverability as a document (C10, C36): its number, the chronology of every step the
agency took on the case, read from the case's audit trail, and its PDF/A. Building and storing the file only:
`services.case_declare_irrecoverable` numbers, records and audits it in the declaration's transaction."""

from dataclasses import dataclass
from datetime import date, datetime

from django.core.files.base import ContentFile
from django.template.loader import render_to_string

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import event_details, internal_verbs, verb_label
from amiable.cases.models import Case, Civility
from amiable.closure.models import CaseClosure, Certificate, IrrecoverableReason
from amiable.core.sequences import sequence_next
from amiable.creditors.selectors import agency_get
from amiable.letters.services import letter_pdf

SEQUENCE, PREFIX = "certificate", "CI"
# Not steps taken to recover: the exchanges with the creditor about the case (messages, questions, meetings)
# and the debtor's row being written.
NOT_STEPS = frozenset(
    {
        "comment.added",
        "comment.internal_added",
        "request.created",
        "request.answered",
        "meeting.slots_proposed",
        "meeting.confirmed",
        "debtor.created",
    }
)
# Verbs kept from the creditor's timeline as the delivery's own course, yet steps with their outcome here: an
# e-mail or SMS that could not be delivered, or was abandoned, was still attempted.
INTERNAL_STEPS = frozenset({"email.failed", "sms.failed", "email.cancelled", "sms.cancelled"})
_CIVILITY = {value: label for value, label in Civility.choices if value}


@dataclass(frozen=True)
class Step:
    at: datetime
    label: str
    details: str


def certificate_number(on: date) -> str:
    """The next number of the year's gap-free series, CI-2026-000001; inside the transaction that stores it."""
    return f"{PREFIX}-{on.year}-{sequence_next(name=SEQUENCE, year=on.year):06d}"


def certificate_steps(*, case: Case) -> list[Step]:
    """Every step of the case in the order it happened, with its date and what came of it: letters, e-mails, SMS,
    calls and their outcome, investigations, events, promises, payments, plans, status changes. The audit trail
    is the one source that holds them all, each written in the transaction of the step itself; the agency's own
    organisation (tasks, scenario runs, ledger entries) is not a step and stays out."""
    hidden = (internal_verbs() - INTERNAL_STEPS) | NOT_STEPS
    events = AuditEvent.objects.for_case(case.pk).exclude(verb__in=hidden)
    return [Step(at=event.at, label=verb_label(event.verb), details=event_details(event)) for event in events]


def certificate_html(
    *, certificate: Certificate, case: Case, closure: CaseClosure, steps: list[Step], issued_by
) -> str:
    """The certificate addressed to the creditor: it may name the structure, unlike a debtor's document."""
    return render_to_string(
        "closure/certificate.html",
        {
            "agency": agency_get(),
            "certificate": certificate,
            "case": case,
            "creditor": case.creditor,
            "structure": case.structure,
            "debtor": case.debtor,
            "civility": _CIVILITY.get(case.debtor.civility, ""),
            "closure": closure,
            "reason_label": IrrecoverableReason(closure.reason).label,
            "steps": steps,
            "issued_by": issued_by.get_full_name() or issued_by.email,
        },
    )


def certificate_pdf(html: str) -> bytes:
    """PDF/A-3b, drawn like the letters (nothing fetched from outside)."""
    return letter_pdf(html)


def certificate_store(certificate: Certificate, pdf: bytes) -> None:
    """Store the PDF under its number. The number is ours under the sequence's lock: a file already there was
    left by a transaction that rolled back after taking the same number, and is replaced."""
    name = f"certificates/{certificate.issued_on.year}/{certificate.number}.pdf"
    storage = certificate.pdf.storage
    if storage.exists(name):
        storage.delete(name)
    certificate.pdf.save(name.removeprefix("certificates/"), ContentFile(pdf), save=False)
