"""Issuing letters: render, check against the law, store once as a numbered PDF, record the action."""

import hashlib
import re
from datetime import date
from html import unescape

from django.core.files.base import ContentFile
from django.db import transaction
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe
from weasyprint import HTML

from amiable.actions.address import address_block, mailing_address
from amiable.actions.legal import L111_8, forbidden_wording, missing_first_letter_mentions
from amiable.actions.models import Action, Channel, Letter, LetterKind, LetterTemplate
from amiable.audit.services import audit_record
from amiable.cases.models import Case, CaseStatus
from amiable.cases.services import case_transition
from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.core.sequences import sequence_next
from amiable.creditors.models import Agency

SUBJECTS = {LetterKind.FIRST: "Demande de paiement amiable", LetterKind.REMINDER: "Relance amiable"}


def template_check(*, body: str, kind: str) -> None:
    """Refuse a template that imitates a judicial act or charges a fee (L3, L7)."""
    problems = forbidden_wording(body)
    if problems:
        raise ApplicationError("Modèle refusé : " + " ; ".join(problems) + ".")
    if not body.strip():
        raise ApplicationError("Le modèle est vide.")


@transaction.atomic
def letter_template_save(*, creditor, kind: str, name: str, body: str, actor) -> LetterTemplate:
    """Create or update a creditor's letter template, only if it passes the legal check."""
    if kind not in LetterKind.values:
        raise ApplicationError(f"Type de courrier inconnu : « {kind} ».")
    template_check(body=body, kind=kind)
    template, created = LetterTemplate.objects.update_or_create(
        creditor=creditor, kind=kind, name=name, defaults={"body": body, "is_active": True}
    )
    audit_record(
        actor=actor,
        verb="letter_template.saved",
        target=template,
        creditor_pk=creditor.pk,
        after={"kind": kind, "name": name, "body": body[:2000], "created": created},
    )
    return template


def first_letter_mentions(*, agency: Agency, case: Case, amount) -> dict[str, list[str]]:
    """What proves each of the five mentions of CPCE R124-4 is in the letter."""
    creditor = case.creditor
    return {
        "1° identité de l'agence et mention de son activité de recouvrement amiable": [
            agency.name,
            *agency.address_lines,
            agency.activity_statement,
        ],
        "2° nom et adresse du créancier": [creditor.name, *creditor.address_lines],
        "3° fondement et montant de la somme due (principal, intérêts, accessoires distincts)": [
            case.basis or "créance du créancier",
            "Principal",
            format_money(case.principal_amount),
            "Intérêts",
            "Autres accessoires",
        ],
        "4° demande de payer et modalités de paiement": [
            "Nous vous demandons de régler la somme de",
            format_money(amount),
            agency.client_account_iban,
            case.reference,
        ],
        "5° reproduction des alinéas 2 et 3 de l'article L111-8 du CPCE": list(L111_8),
    }


def letter_check(*, text: str, case: Case, kind: str, agency: Agency, amount) -> None:
    """The letter about to be issued, as the debtor will read it, against the law (L1, L3, L7)."""
    problems = forbidden_wording(text, quoted=(case.basis,))
    if problems:
        raise ApplicationError("Courrier refusé : " + " ; ".join(problems) + ".")
    if kind == LetterKind.FIRST:
        missing = missing_first_letter_mentions(
            text, mentions=first_letter_mentions(agency=agency, case=case, amount=amount)
        )
        if missing:
            raise ApplicationError(
                "Première lettre refusée, mention obligatoire absente (CPCE R124-4) : " + " ; ".join(missing) + "."
            )


def _text_of(html: str) -> str:
    """The letter as the debtor reads it: no tags, entities decoded, single spaces."""
    return re.sub(r"\s+", " ", unescape(strip_tags(html.replace("<br>", " ").replace("</p>", " ")))).strip()


def letter_render(
    *, case: Case, kind: str, template: LetterTemplate, number: str, issued_on: date, first_letter=None
) -> tuple[str, list[str]]:
    """The letter's HTML and its address block (no storage: also used for the preview)."""
    agency = Agency.objects.get()
    lines = address_block(debtor=case.debtor, point=mailing_address(case.debtor))
    amount = case.claimed_amount
    variables = {
        "debiteur": case.debtor.display_name,
        "creancier": case.creditor.name,
        "reference": case.reference,
        "montant": format_money(amount),
        "agence": agency.name,
    }
    body_html = "".join(
        f"<p>{paragraph}</p>"
        for paragraph in Template(template.body).render(Context(variables)).split("\n\n")
        if paragraph.strip()
    )
    html = render_to_string(
        "letters/letter.html",
        {
            "agency": agency,
            "creditor": case.creditor,
            "case": case,
            "amount": amount,
            "address_lines": lines,
            "letter_number": number,
            "issued_on": issued_on,
            "first_letter": first_letter,
            "is_first": kind == LetterKind.FIRST,
            "subject": SUBJECTS[kind],
            "body": _safe(body_html),
            "l111_8": L111_8,
        },
    )
    letter_check(text=_text_of(html), case=case, kind=kind, agency=agency, amount=amount)
    return html, lines


def _safe(html: str):

    return mark_safe(html)


@transaction.atomic
def letter_issue(
    *, case: Case, kind: str, actor, template: LetterTemplate | None = None, issued_on: date | None = None
) -> Letter:
    """Issue a letter: refused for a case that is not being recovered, a first letter issued twice, a
    reminder before the first letter, or anything the law forbids; stored once, with its hash."""
    case = Case.objects.select_for_update().select_related("debtor", "creditor").get(pk=case.pk)
    if case.status not in {CaseStatus.NEW, CaseStatus.IN_PROGRESS}:
        raise ApplicationError(
            f"Le dossier {case.reference} est « {case.get_status_display()} » : aucun courrier ne peut partir."
        )
    first = Letter.objects.filter(case=case, kind=LetterKind.FIRST).first()
    if kind == LetterKind.FIRST and first is not None:
        raise ApplicationError(f"La première lettre du dossier {case.reference} est déjà partie ({first.number}).")
    if kind == LetterKind.REMINDER and first is None:
        raise ApplicationError("Une relance suppose la première lettre (CPCE R124-4) : envoyez-la d'abord.")
    template = (
        template
        or LetterTemplate.objects.filter(creditor=case.creditor, kind=kind, is_active=True).order_by("pk").first()
    )
    if template is None:
        raise ApplicationError(f"Aucun modèle de courrier « {LetterKind(kind).label} » pour {case.creditor.name}.")
    issued_on = issued_on or timezone.localdate()
    number = f"L-{issued_on.year}-{sequence_next(name='letter', year=issued_on.year):06d}"
    html, lines = letter_render(
        case=case,
        kind=kind,
        template=template,
        number=number,
        issued_on=issued_on,
        first_letter=first if kind != LetterKind.FIRST else None,
    )
    pdf = HTML(string=html).write_pdf()
    letter = Letter(
        number=number,
        case=case,
        kind=kind,
        template=template,
        first_letter=first if kind != LetterKind.FIRST else None,
        issued_on=issued_on,
        issued_at=timezone.now(),
        issued_by=actor if getattr(actor, "is_authenticated", False) else None,
        address_lines=lines,
        amount=case.claimed_amount,
        sha256=hashlib.sha256(pdf).hexdigest(),
    )
    letter.pdf.save(f"{issued_on.year}/{number}.pdf", ContentFile(pdf), save=False)
    letter.save()
    Action.objects.create(
        case=case,
        channel=Channel.LETTER,
        at=letter.issued_at,
        actor=letter.issued_by,
        summary=f"{LetterKind(kind).label} {number}",
        letter=letter,
    )
    if case.status == CaseStatus.NEW:
        case_transition(case=case, to=CaseStatus.IN_PROGRESS, actor=actor, reason=f"Première lettre {number}")
    audit_record(
        actor=actor,
        verb="letter.issued",
        target=letter,
        after={
            "number": number,
            "kind": kind,
            "amount": letter.amount,
            "first_letter": first.number if first else None,
            "sha256": letter.sha256,
        },
    )
    return letter
