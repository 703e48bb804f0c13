"""Receipts of payments and the documents cancelling them (C17, L4, CPCE R124-6).

Every payment yields a receipt, numbered without gaps (RC-2026-000001) inside the payment's own transaction:
a payment rolled back gives its number back. A reversal yields a cancelling document (AN-2026-000001) that
names the receipt it cancels. Each is rendered from a template, checked against the same rules as every
document to a debtor (no fee, no judicial wording, nothing of the care nor of the structure), stored once as a
PDF/A with its hash, then e-mailed when the debtor has a valid e-mail address — a receipt is owed to the
debtor, not a recovery contact: outside the contact rule's caps, even after a do-not-contact request — or
else posted with the next daily print run (`letters.printables`, registered by `PaymentsConfig.ready()`).
A debtor with neither gets a task for the agent: the receipt is downloaded from the case page and handed over."""

import hashlib
import re
from datetime import date

from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from amiable.audit.services import audit_record
from amiable.cases.models import Case, TaskKind
from amiable.cases.services import task_open
from amiable.compliance.legal import debtor_text_problems
from amiable.compliance.wording import claim_basis
from amiable.contact.messaging import debtor_email, document_email_queue
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO
from amiable.core.sequences import sequence_next
from amiable.creditors.selectors import agency_get
from amiable.letters.address import address_block, mailing_address
from amiable.letters.printables import PrintItem
from amiable.letters.services import letter_pdf, letter_text
from amiable.payments.models import Payment, PaymentReversal, Receipt, ReceiptKind
from amiable.payments.printing import print_items

# Each kind has its own gap-free series, per calendar year of issue.
SERIES = {
    ReceiptKind.RECEIPT: ("receipt", "RC"),
    ReceiptKind.CANCELLATION: ("receipt_cancellation", "AN"),
}
TITLES = {
    ReceiptKind.RECEIPT: "Reçu de paiement",
    ReceiptKind.CANCELLATION: "Annulation de reçu",
}
# A payment made directly to the creditor was not received by the agency: the agency cannot give a receipt
# for money it never held, only certify that it recorded the payment made to the creditor.
DIRECT_TITLE = "Attestation de paiement direct au créancier"
_ARTICLE = re.compile(r"^(?:(Les|La|Le)\s+|(L['’])\s*)(.+)$", re.DOTALL)
# The reason of a reversal is the agent's own words; on a debtor's document « saisie » (data entry) would read
# as a seizure (L7), so the usual phrase is reworded, and a reason the rules still refuse is replaced.
_DATA_ENTRY = re.compile(r"\b(erreurs?) de saisies?\b", re.IGNORECASE)
GENERIC_REASON = "paiement annulé par l'agence"


def creditor_after_de(creditor) -> str:
    """The creditor's name after « de », with its article: « de la Caisse… », « du Centre… », « de l'Hôpital… »,
    « des Hospices… », or « de Nom » when the creditor has no name with an article."""
    match = _ARTICLE.match((creditor.name_with_article or "").strip())
    if not match:
        return f"de {creditor.name}"
    article, rest = match.group(1) or match.group(2), match.group(3)
    if article == "Le":
        return f"du {rest}"
    if article == "Les":
        return f"des {rest}"
    if article == "La":
        return f"de la {rest}"
    return f"de l'{rest}"


def _address(debtor) -> tuple[list[str], str]:
    """The address block to print, or no lines and why (no valid address, or one the postal standard refuses):
    a receipt is owed whatever the address book holds, so the payment is never refused for it."""
    try:
        return address_block(debtor=debtor, point=mailing_address(debtor)), ""
    except ApplicationError as exc:
        return [], exc.message


def debtor_reason(reason: str, case: Case) -> str:
    """The reversal's reason as the cancelling document prints it: the agent's words when the rules of debtor
    documents accept them (« erreur de saisie » reworded « erreur d'enregistrement »), else a neutral phrase."""
    reason = _DATA_ENTRY.sub(lambda m: f"{m.group(1)} d'enregistrement", reason)
    return GENERIC_REASON if debtor_text_problems(reason, case=case) else reason


def _number(kind: str, on: date) -> str:
    name, prefix = SERIES[kind]
    return f"{prefix}-{on.year}-{sequence_next(name=name, year=on.year):06d}"


def receipt_check(*, text: str, case: Case, quoted: tuple[str, ...]) -> None:
    """The receipt as the debtor reads it against the rules of every debtor document (L3, L7, L9): no fee, no
    judicial wording, neither the structure nor the kind of care. `quoted` is data printed as is."""
    problems = debtor_text_problems(text, case=case, quoted=quoted)
    if problems:
        raise ApplicationError("Reçu refusé : " + " ; ".join(problems) + ".")


def _title(receipt: Receipt, payment: Payment) -> str:
    return DIRECT_TITLE if payment.is_direct and receipt.kind == ReceiptKind.RECEIPT else TITLES[receipt.kind]


def _render(*, receipt: Receipt, case: Case, payment: Payment, reversal: PaymentReversal | None) -> str:
    agency = agency_get()
    kind = receipt.kind
    html = render_to_string(
        "payments/receipt_pdf.html",
        {
            "agency": agency,
            "creditor": case.creditor,
            "creditor_after_de": creditor_after_de(case.creditor),
            "case": case,
            "debtor": case.debtor,
            "payment": payment,
            "receipt": receipt,
            "reversal": reversal,
            "reason": debtor_reason(reversal.reason, case) if reversal else "",
            "title": _title(receipt, payment),
            "is_cancellation": kind == ReceiptKind.CANCELLATION,
            "is_direct": payment.is_direct,
            "basis": claim_basis(case),
            "overpaid": case.overpaid_amount if case.overpaid_amount > ZERO else None,
        },
    )
    receipt_check(text=letter_text(html), case=case, quoted=(case.debtor.display_name, *receipt.address_lines))
    return html


def _store(receipt: Receipt, pdf: bytes) -> None:
    """Store the PDF under its number. The number is ours under the sequence's lock: a file already there was
    left by a transaction that rolled back after taking the same number, and is replaced."""
    name = f"receipts/{receipt.issued_on.year}/{receipt.number}.pdf"
    storage = receipt.pdf.storage
    if storage.exists(name):
        storage.delete(name)
    receipt.pdf.save(name.removeprefix("receipts/"), ContentFile(pdf), save=False)


def _deliver(receipt: Receipt, case: Case, payment: Payment, *, address_problem: str, actor) -> str:
    """E-mail the receipt when the debtor has a valid address, else leave it to the print run; with neither,
    a task asks the agent to hand it over. Returns how it goes: « email », « post » or « hand »."""
    to = debtor_email(case=case)
    if to:
        context = {"agency": agency_get(), "case": case, "creditor": case.creditor, "receipt": receipt}
        document_email_queue(
            case=case,
            to=to,
            subject=f"{_title(receipt, payment)} {receipt.number} — dossier {case.reference}",
            text=render_to_string("payments/receipt_email.txt", context),
            html=render_to_string("payments/receipt_email.html", context),
            attachment=receipt.pdf,
            attachment_name=f"{receipt.number}.pdf",
            attachment_sha256=receipt.sha256,
            actor=actor,
        )
        receipt.emailed_to = to
        return "email"
    if receipt.address_lines:
        return "post"
    task_open(
        case=case,
        kind=TaskKind.REVIEW,
        reason=f"{receipt.number} à remettre au débiteur : ni e-mail ni adresse valide ({address_problem})",
        due_on=timezone.localdate(),
        actor=actor,
    )
    return "hand"


def _issue(*, kind: str, payment: Payment, reversal: PaymentReversal | None, cancels: Receipt | None, actor):
    case = Case.objects.select_related("debtor", "creditor", "structure").get(pk=payment.case_id)
    now = timezone.now()
    issued_on = timezone.localdate(now)
    lines, address_problem = _address(case.debtor)
    receipt = Receipt(
        number=_number(kind, issued_on),
        kind=kind,
        case=case,
        payment=payment,
        cancels=cancels,
        issued_on=issued_on,
        issued_at=now,
        amount=payment.amount,
        balance_after=case.balance,
        address_lines=lines,
    )
    pdf = letter_pdf(_render(receipt=receipt, case=case, payment=payment, reversal=reversal))
    receipt.sha256 = hashlib.sha256(pdf).hexdigest()
    _store(receipt, pdf)
    try:
        delivery = _deliver(receipt, case, payment, address_problem=address_problem, actor=actor)
        receipt.save()
        audit_record(
            actor=actor,
            verb="receipt.issued" if kind == ReceiptKind.RECEIPT else "receipt.cancelled",
            target=receipt,
            creditor_pk=case.creditor_id,
            after={
                "number": receipt.number,
                "kind": kind,
                "payment": payment.pk,
                "cancels": cancels.number if cancels else None,
                "amount": receipt.amount,
                "balance": receipt.balance_after,
                "delivery": delivery,
                "emailed_to": receipt.emailed_to,
                "sha256": receipt.sha256,
            },
        )
    except BaseException:
        # The row is rolled back with the transaction: the file must not outlive it.
        receipt.pdf.delete(save=False)
        raise
    return receipt


@transaction.atomic
def receipt_issue(*, payment: Payment, actor) -> Receipt:
    """Issue the receipt of a payment inside the payment's transaction (its number, file and delivery go or
    stay with the payment); issuing it again returns the receipt already issued."""
    existing = Receipt.objects.filter(payment=payment, kind=ReceiptKind.RECEIPT).first()
    if existing is not None:
        return existing
    return _issue(kind=ReceiptKind.RECEIPT, payment=payment, reversal=None, cancels=None, actor=actor)


@transaction.atomic
def receipt_cancel(*, reversal: PaymentReversal, actor) -> Receipt | None:
    """Issue the document that cancels the receipt of a reversed payment, with the reason and the balance
    restored; None when the payment had no receipt to cancel (recorded before receipts were issued)."""
    payment = reversal.payment
    existing = Receipt.objects.filter(payment=payment, kind=ReceiptKind.CANCELLATION).first()
    if existing is not None:
        return existing
    cancelled = Receipt.objects.filter(payment=payment, kind=ReceiptKind.RECEIPT).first()
    if cancelled is None:
        return None
    return _issue(kind=ReceiptKind.CANCELLATION, payment=payment, reversal=reversal, cancels=cancelled, actor=actor)


# --- the print run's side (registered in PaymentsConfig.ready) ------------------------------------------


def receipts_to_post(*, day: date, lock: bool) -> list[PrintItem]:
    """Receipts and cancellations issued by `day`, not e-mailed, with an address, not yet printed: a receipt
    issued after a day's run goes with the next run."""
    receipts = (
        Receipt.objects.filter(issued_on__lte=day, printed_on__isnull=True, emailed_to="")
        .exclude(address_lines=[])
        .select_related("case__debtor")
        .order_by("issued_on", "number", "pk")
    )
    return print_items(receipts, lock=lock)


def receipts_mark_printed(*, pks: list[int], day: date) -> None:
    Receipt.objects.filter(pk__in=pks, printed_on__isnull=True).update(printed_on=day)
