"""Issuing letters: render, check against the law, store once as a numbered PDF, record the action."""

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from html import unescape

from django.core.files.base import ContentFile
from django.db import transaction
from django.template import Context, Template, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_record
from amiable.cases.models import Action, Case, CaseStatus, Channel
from amiable.cases.policy import case_contact_block
from amiable.cases.services import case_transition
from amiable.compliance.legal import (
    L111_8,
    fold,
    forbidden_wording,
    medical_secrecy_problems,
    missing_first_letter_mentions,
)
from amiable.compliance.wording import claim_basis, salutation
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.core.sequences import sequence_next
from amiable.creditors.models import Agency, Structure
from amiable.creditors.selectors import agency_get, terms_for
from amiable.letters.address import address_block, mailing_address
from amiable.letters.amounts import AmountsDue, amounts_due
from amiable.letters.models import Letter, LetterKind, LetterTemplate

AGENCY_ONLY = "Seule l'agence émet les courriers aux débiteurs."
SUBJECTS = {LetterKind.FIRST: "Demande de paiement amiable", LetterKind.REMINDER: "Relance amiable"}
# What the preview prints where the letter's number goes: a preview is never numbered nor stored.
PREVIEW_NUMBER = "APERÇU"
# The only variables a template may use; anything else (tags, filters, other names) is refused when
# the template is saved, so that the wording cannot pull data the law or medical secrecy forbids.
TEMPLATE_VARIABLES = {
    "salutation": "« Madame », « Monsieur » ou « Madame, Monsieur » selon la civilité du débiteur",
    "debiteur": "nom du débiteur",
    "creancier": "nom du créancier",
    "le_creancier": "nom du créancier avec son article, en début de phrase",
    "reference": "référence du dossier",
    "montant": "somme due",
    "agence": "nom de l'agence",
}
_VARIABLE = re.compile(r"{{\s*(.*?)\s*}}", re.DOTALL)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)


def template_check(*, body: str, kind: str, creditor=None) -> None:
    """Refuse a template that imitates a judicial act or charges a fee (L3, L7), names a care centre (L9;
    the creditor's, or any when the creditor is not known), or uses anything but the documented variables."""
    if not body.strip():
        raise ApplicationError("Le modèle est vide.")
    problems = forbidden_wording(body)
    if problems:
        raise ApplicationError("Modèle refusé : " + " ; ".join(problems) + ".")
    available = ", ".join(f"{{{{ {name} }}}} ({label})" for name, label in TEMPLATE_VARIABLES.items())
    if "{%" in body or "{#" in body:
        raise ApplicationError(f"Modèle refusé : seules les variables sont admises ({available}).")
    unknown = sorted({name for name in _VARIABLE.findall(body) if name not in TEMPLATE_VARIABLES})
    if unknown:
        names = ", ".join(f"« {{{{ {name} }}}} »" for name in unknown)
        raise ApplicationError(f"Modèle refusé : variable inconnue {names}. Variables disponibles : {available}.")
    try:
        Template(body)
    except TemplateSyntaxError as exc:
        raise ApplicationError(f"Modèle refusé : accolades mal formées ({exc}).") from exc
    # Medical secrecy (CSP L1110-4): the wording never names a care centre.
    structures = Structure.objects.filter(creditor=creditor) if creditor is not None else Structure.objects.all()
    folded = fold(body)
    for structure_name in structures.values_list("name", flat=True).order_by("name"):
        if fold(structure_name) in folded:
            raise ApplicationError(
                f"Modèle refusé : il nomme la structure « {structure_name} ». Le secret médical (CSP L1110-4) "
                "interdit de révéler le lieu des soins : seul le créancier peut être nommé."
            )


@transaction.atomic
def letter_template_save(*, creditor, kind: str, name: str, body: str, actor) -> LetterTemplate:
    """Create or update a creditor's letter template, only if it passes the legal check."""
    if kind not in LetterKind.values:
        raise ApplicationError(f"Type de courrier inconnu : « {kind} ».")
    name = " ".join(name.split())
    if not name:
        raise ApplicationError("Le nom du modèle est obligatoire.")
    body = body.replace("\r\n", "\n")
    template_check(body=body, kind=kind, creditor=creditor)
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
            claim_basis(case),
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


def letter_check(*, text: str, case: Case, kind: str, agency: Agency, amount, quoted: tuple[str, ...] = ()) -> None:
    """The letter about to be issued, as the debtor will read it, against the law (L1, L3, L7, L9).
    `quoted` is data printed as is (the address block): a street name is not wording."""
    problems = forbidden_wording(text, quoted=(case.debtor.display_name, *quoted))
    if problems:
        raise ApplicationError("Courrier refusé : " + " ; ".join(problems) + ".")
    # Medical secrecy (CSP L1110-4): being a patient of a care centre is health data; the letter names
    # the creditor only, never the structure where the care was given nor the kind of care.
    secrecy = medical_secrecy_problems(
        text,
        structure_name=case.structure.name,
        creditor_name=case.creditor.name,
        specialty=True,
        quoted=(case.debtor.display_name, *quoted),
    )
    if secrecy:
        raise ApplicationError("Courrier refusé : " + " ; ".join(secrecy) + ".")
    if kind == LetterKind.FIRST:
        missing = missing_first_letter_mentions(
            text, mentions=first_letter_mentions(agency=agency, case=case, amount=amount)
        )
        if missing:
            raise ApplicationError(
                "Première lettre refusée, mention obligatoire absente (CPCE R124-4) : " + " ; ".join(missing) + "."
            )


def letter_text(html: str) -> str:
    """The letter as the debtor reads it: the page's body only, no tags, entities decoded, single spaces."""
    match = _BODY.search(html)
    body = match.group(1) if match else html
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]*>", " ", body))).strip()


def _body_html(body: str, variables: dict[str, str]) -> SafeString:
    """The template's wording as HTML paragraphs: the wording itself is text (escaped, never markup), and
    the variables are escaped by the template engine."""
    rendered = Template(escape(body.replace("\r\n", "\n"))).render(Context(variables, autoescape=True))
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", rendered) if p.strip()]
    return mark_safe("".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs))


@dataclass(frozen=True)
class LetterInputs:
    """What a letter is made of besides its case and wording, read from the database: the agency, the
    creditor's terms, the address block and the amounts. Read once per letter by `letter_render`, or in
    bulk for many letters (`services_bulk`), so that the rendering itself (`letter_compose`) reads nothing."""

    agency: Agency
    payment_days: int
    lines: list[str]
    amounts: AmountsDue


def letter_inputs(*, case: Case) -> LetterInputs:
    """The database reads of one letter; refuses a debtor without a valid or printable address, or amounts
    that do not add up."""
    return LetterInputs(
        agency=agency_get(),
        payment_days=terms_for(case.creditor).payment_days,
        lines=address_block(debtor=case.debtor, point=mailing_address(case.debtor)),
        # What is asked is the remaining balance: the payments already received are deducted (issue 9).
        amounts=amounts_due(case),
    )


def letter_render(
    *,
    case: Case,
    kind: str,
    template: LetterTemplate,
    number: str,
    issued_on: date,
    first_letter=None,
    preview: bool = False,
    signatory: "Signatory | None" = None,
) -> tuple[str, list[str]]:
    """The letter's HTML and its address block, checked against the law (no storage: also used for the
    preview)."""
    return letter_compose(
        case=case,
        kind=kind,
        template=template,
        number=number,
        issued_on=issued_on,
        inputs=letter_inputs(case=case),
        first_letter=first_letter,
        preview=preview,
        signatory=signatory or letter_signatory(case=case, actor=None),
    )


def letter_compose(
    *,
    case: Case,
    kind: str,
    template: LetterTemplate,
    number: str,
    issued_on: date,
    inputs: LetterInputs,
    signatory: "Signatory",
    first_letter=None,
    preview: bool = False,
) -> tuple[str, list[str]]:
    """`letter_render` once its inputs are read: no query, so that it can run in a rendering process."""
    agency, lines, amounts = inputs.agency, inputs.lines, inputs.amounts
    amount = amounts.due
    greeting = salutation(case.debtor)
    variables = {
        "salutation": greeting,
        "debiteur": case.debtor.display_name,
        "creancier": case.creditor.name,
        "le_creancier": case.creditor.sentence_name,
        "reference": case.reference,
        "montant": format_money(amount),
        "agence": agency.name,
    }
    html = render_to_string(
        "letters/letter.html",
        {
            "agency": agency,
            "creditor": case.creditor,
            "case": case,
            "amount": amount,
            "amounts": amounts,
            "address_lines": lines,
            "letter_number": number,
            "issued_on": issued_on,
            "first_letter": first_letter,
            "is_first": kind == LetterKind.FIRST,
            "subject": SUBJECTS[kind],
            "body": _body_html(template.body, variables),
            "l111_8": L111_8,
            "preview": preview,
            "basis": claim_basis(case),
            "salutation": greeting,
            "pay_by": issued_on + timedelta(days=inputs.payment_days),
            "signatory": signatory,
        },
    )
    letter_check(text=letter_text(html), case=case, kind=kind, agency=agency, amount=amount, quoted=tuple(lines))
    return html, lines


# The signatory's function as a debtor reads it (the roles' labels are the software's, not titles).
SIGNATORY_FUNCTIONS = {
    "agent": "Chargé(e) de recouvrement amiable",
    "supervisor": "Responsable du recouvrement amiable",
    "agency_admin": "Direction",
}


@dataclass(frozen=True)
class Signatory:
    name: str
    function: str


def letter_signatory(*, case: Case, actor) -> Signatory:
    """Who signs: the agent who issues the letter, else the case's agent (a scenario's letter), else the
    agency's recovery department."""
    person = actor if getattr(actor, "is_authenticated", False) and getattr(actor, "is_agency", False) else None
    person = person or case.assigned_agent
    if person is None:
        return Signatory(name="Le service recouvrement", function="")
    return Signatory(name=person.get_full_name() or person.email, function=SIGNATORY_FUNCTIONS.get(person.role, ""))


def letter_pdf(html: str, *, archival: bool = True) -> bytes:
    """The PDF of a rendered letter. Nothing is ever fetched (the letter needs no outside resource: a stray
    URL is refused, not followed); an issued letter is PDF/A-3b, the archival format."""
    document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=set()))
    options = {"pdf_variant": "pdf/a-3b"} if archival else {}
    return document.write_pdf(font_config=_font_config(), **options)


@lru_cache(maxsize=1)
def _font_config() -> FontConfiguration:
    """One font configuration per process: the system's fonts are looked up once, not for every letter."""
    return FontConfiguration()


def _prerequisites(
    *, case: Case, kind: str, issued_on: date, at: datetime | None = None, template: LetterTemplate | None = None
) -> tuple[LetterTemplate, Letter | None]:
    """What must hold before a letter of `kind` can go to the debtor of `case` on `issued_on`: the template to
    use and the first letter (for a reminder), or an ApplicationError saying why not."""
    if kind not in LetterKind.values:
        raise ApplicationError(f"Type de courrier inconnu : « {kind} ».")
    # The one contact rule (L8, L10): status, over-indebtedness or death, do-not-contact, the letter cap.
    block = case_contact_block(case, Channel.LETTER, at)
    if block is not None:
        raise ApplicationError(f"Aucun courrier ne peut partir pour le dossier {case.reference} : {block.message}.")
    first = Letter.objects.filter(case=case, kind=LetterKind.FIRST).first()
    if kind == LetterKind.FIRST and first is not None:
        raise ApplicationError(f"La première lettre du dossier {case.reference} est déjà partie ({first.number}).")
    if kind == LetterKind.REMINDER:
        if first is None:
            raise ApplicationError("Une relance suppose la première lettre (CPCE R124-4) : envoyez-la d'abord.")
        # A second letter the same day is a double click or harassment (L8), never a need.
        same_day = Letter.objects.filter(case=case, issued_on=issued_on).order_by("pk").first()
        if same_day is not None:
            raise ApplicationError(
                f"Le courrier {same_day.number} est déjà parti le {format_date(issued_on)} pour le dossier "
                f"{case.reference} : pas de relance le même jour."
            )
    template = _prerequisite_template(case=case, kind=kind, template=template)
    return template, (first if kind == LetterKind.REMINDER else None)


def _prerequisite_template(*, case: Case, kind: str, template: LetterTemplate | None = None) -> LetterTemplate:
    """The template a letter of `kind` to the debtor of `case` uses, checked against the current rules, or an
    ApplicationError saying why there is none."""
    if template is None:
        template = (
            LetterTemplate.objects.filter(creditor_id=case.creditor_id, kind=kind, is_active=True)
            .order_by("pk")
            .first()
        )
        if template is None and not LetterTemplate.objects.filter(creditor_id=case.creditor_id).exists():
            # A creditor without any template yet gets the lawful defaults (audited), as the demo does.
            from amiable.letters.defaults import letter_templates_ensure  # defaults build on this module

            letter_templates_ensure(creditor=case.creditor)
            template = LetterTemplate.objects.filter(creditor_id=case.creditor_id, kind=kind, is_active=True).first()
        if template is None:
            raise ApplicationError(f"Aucun modèle de courrier « {LetterKind(kind).label} » pour {case.creditor.name}.")
    elif template.creditor_id != case.creditor_id or template.kind != kind:
        raise ApplicationError(
            f"Le modèle « {template.name} » n'est pas un modèle « {LetterKind(kind).label} » de {case.creditor.name}."
        )
    # The template may have been written before the current rules (or straight into the database).
    template_check(body=template.body, kind=kind, creditor=case.creditor)
    return template


def letter_preview(*, case: Case, kind: str, actor=None) -> bytes:
    """The letter `letter_issue` would send today, as a PDF numbered « APERÇU »: nothing is numbered,
    stored or audited, the same rules refuse it. Agency staff or the system only: it shows the debtor's data."""
    require(actor is None or can_work_cases(actor), AGENCY_ONLY)
    case = Case.objects.select_related("debtor", "creditor", "structure", "assigned_agent").get(pk=case.pk)
    issued_on = timezone.localdate()
    template, first = _prerequisites(case=case, kind=kind, issued_on=issued_on)
    html, _ = letter_render(
        case=case,
        kind=kind,
        template=template,
        number=PREVIEW_NUMBER,
        issued_on=issued_on,
        first_letter=first,
        preview=True,
        signatory=letter_signatory(case=case, actor=actor),
    )
    return letter_pdf(html, archival=False)


@transaction.atomic
def letter_issue(
    *,
    case: Case,
    kind: str,
    actor,
    template: LetterTemplate | None = None,
    issued_on: date | None = None,
    at: datetime | None = None,
) -> Letter:
    """Issue a letter: refused for a case that is not being recovered, a first letter issued twice, a
    reminder before the first letter, or anything the law forbids; stored once, with its hash. Agency
    staff or the system (a scenario: `actor=None`) only."""
    require(actor is None or can_work_cases(actor), AGENCY_ONLY)
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("debtor", "creditor", "structure", "assigned_agent")
        .get(pk=case.pk)
    )
    issued_on = issued_on or timezone.localdate()
    at = at or timezone.now()
    template, first = _prerequisites(case=case, kind=kind, issued_on=issued_on, at=at, template=template)
    number = f"L-{issued_on.year}-{sequence_next(name='letter', year=issued_on.year):06d}"
    html, lines = letter_render(
        case=case,
        kind=kind,
        template=template,
        number=number,
        issued_on=issued_on,
        first_letter=first,
        signatory=letter_signatory(case=case, actor=actor),
    )
    pdf = letter_pdf(html)
    letter = Letter(
        number=number,
        case=case,
        kind=kind,
        template=template,
        first_letter=first,
        issued_on=issued_on,
        issued_at=at,
        issued_by=actor if getattr(actor, "is_authenticated", False) else None,
        address_lines=lines,
        amount=case.balance,
        sha256=hashlib.sha256(pdf).hexdigest(),
    )
    letter.pdf.save(f"{issued_on.year}/{number}.pdf", ContentFile(pdf), save=False)
    try:
        letter.action = Action.objects.create(
            case=case,
            channel=Channel.LETTER,
            at=letter.issued_at,
            actor=letter.issued_by,
            summary=f"{LetterKind(kind).label} {number}",
        )
        letter.save()
        if case.status == CaseStatus.NEW:
            case_transition(case=case, to=CaseStatus.IN_PROGRESS, actor=actor, reason=f"Première lettre {number}")
        audit_record(
            actor=actor,
            verb="letter.issued",
            target=letter,
            creditor_pk=case.creditor_id,
            after={
                "number": number,
                "kind": kind,
                "amount": letter.amount,
                "first_letter": first.number if first else None,
                "sha256": letter.sha256,
            },
        )
    except BaseException:
        # The row is rolled back with the transaction: the file must not outlive it.
        letter.pdf.delete(save=False)
        raise
    return letter


# --- reads ---------------------------------------------------------------------------------------------


def letter_get(*, user, pk: int) -> Letter:
    """One issued letter of a case the user may see (agency staff, or the case's creditor staff within
    their structures), or Letter.DoesNotExist (the view turns it into a 404)."""
    return Letter.objects.select_related("case").get(pk=pk, case__in=Case.objects.visible_to(user))
