"""An agent keeps the debtor's phones and e-mails right from the case page: adds one the debtor gave, corrects a
wrong one, or records that one was verified with the debtor. Only a verified (« valide ») phone or e-mail is
written to; an unverified one is shown as such until an agent verifies it.

A correction never overwrites: it adds the corrected point and marks the old one invalid, so that the history
keeps what was known, when and from where (a call to the old number stays explained). Every change is audited
on the case's timeline."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_record
from amiable.cases.models import Case, ContactKind, ContactPoint, ContactQuality
from amiable.cases.services import case_lock, contact_point_add, contact_point_set_quality
from amiable.contact.services import phone_e164
from amiable.core.exceptions import ApplicationError

AGENCY_ONLY = "Seule l'agence modifie les coordonnées des débiteurs."
EDITABLE_KINDS = (ContactKind.PHONE, ContactKind.EMAIL)
AGENT_SOURCE = "Saisie de l'agent"


def _clean_value(kind: str, value: str) -> str:
    """A phone as E.164 (a French number in any common writing), an e-mail lower-cased; refused in French."""
    if kind not in EDITABLE_KINDS:
        raise ApplicationError(
            "Seuls un téléphone ou un e-mail se saisissent ici (une adresse passe par la recherche d'adresse)."
        )
    value = " ".join((value or "").split())
    if not value:
        raise ApplicationError("Indiquez la coordonnée.")
    if kind == ContactKind.PHONE:
        number = phone_e164(value)
        if not number.startswith("+"):
            raise ApplicationError(f"Numéro de téléphone invalide : « {value} ».")
        return number
    if len(value) > 254:
        raise ApplicationError("L'adresse e-mail est trop longue.")
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ApplicationError(f"Adresse e-mail invalide : « {value} ».") from exc
    return value.lower()


def _point_of_case(case: Case, point: ContactPoint) -> ContactPoint:
    point = ContactPoint.objects.select_for_update().get(pk=point.pk)
    if point.debtor_id != case.debtor_id:
        raise ApplicationError(f"Cette coordonnée n'est pas celle du débiteur du dossier {case.reference}.")
    return point


def _known(case: Case, kind: str, value: str) -> ContactPoint | None:
    return (
        ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=kind, value=value)
        .exclude(quality=ContactQuality.INVALID)
        .first()
    )


@transaction.atomic
def contact_point_record(*, case: Case, kind: str, value: str, actor, verified: bool = False) -> ContactPoint:
    """Add a phone or an e-mail the debtor gave: « non vérifié » unless the agent verified it with the debtor
    (then « valide », checked today). A value already known is refused (verify or correct it instead)."""
    require(can_work_cases(actor), AGENCY_ONLY)
    case = case_lock(case)
    value = _clean_value(kind, value)
    known = _known(case, kind, value)
    if known is not None:
        raise ApplicationError(
            f"{known.display} est déjà connu ({known.get_quality_display().lower()}) : vérifiez-le ou corrigez-le."
        )
    point = contact_point_add(
        debtor=case.debtor,
        kind=kind,
        value=value,
        source=AGENT_SOURCE,
        actor=actor,
        quality=ContactQuality.VALID if verified else ContactQuality.UNKNOWN,
        valid_from=timezone.localdate(),
        case=case,
    )
    if verified:
        ContactPoint.objects.filter(pk=point.pk).update(checked_on=timezone.localdate())
        point.refresh_from_db()
    return point


@transaction.atomic
def contact_point_correct(
    *, case: Case, point: ContactPoint, value: str, actor, verified: bool = False
) -> ContactPoint:
    """Correct a phone or an e-mail: the corrected one is added (primary if the old one was, « valide » when
    verified with the debtor, else « non vérifié ») and the old one becomes invalid — kept, never overwritten."""
    require(can_work_cases(actor), AGENCY_ONLY)
    case = case_lock(case)
    point = _point_of_case(case, point)
    value = _clean_value(point.kind, value)
    if value == point.value:
        raise ApplicationError("La correction est identique à la coordonnée actuelle.")
    if _known(case, point.kind, value) is not None:
        raise ApplicationError(f"{value} est déjà connu pour ce débiteur : vérifiez-le plutôt.")
    old_display = point.display
    if point.quality != ContactQuality.INVALID:
        contact_point_set_quality(point=point, quality=ContactQuality.INVALID, actor=actor, case=case)
    new = contact_point_add(
        debtor=case.debtor,
        kind=point.kind,
        value=value,
        source=AGENT_SOURCE,
        actor=actor,
        quality=ContactQuality.VALID if verified else ContactQuality.UNKNOWN,
        valid_from=timezone.localdate(),
        is_primary=point.is_primary,
        case=case,
    )
    if verified:
        ContactPoint.objects.filter(pk=new.pk).update(checked_on=timezone.localdate())
        new.refresh_from_db()
    if point.is_primary:
        ContactPoint.objects.filter(pk=point.pk).update(is_primary=False)
    audit_record(
        actor=actor,
        verb="contact_point.corrected",
        target=new,
        case_pk=case.pk,
        before={"display": old_display},
        after={"kind": point.kind, "display": new.display, "quality": new.quality, "replaces": point.pk},
    )
    return new


@transaction.atomic
def contact_point_verify(*, case: Case, point: ContactPoint, actor) -> ContactPoint:
    """Record that a contact point was verified with the debtor: « valide », checked today (audited). An invalid
    point is not revived by a click: a wrong number is corrected, which keeps the trace."""
    require(can_work_cases(actor), AGENCY_ONLY)
    case = case_lock(case)
    point = _point_of_case(case, point)
    if point.kind not in EDITABLE_KINDS:
        # An address is confirmed by the address search (C9), not by a click.
        raise ApplicationError(
            "Seuls un téléphone ou un e-mail se vérifient ici ; une adresse se confirme par la recherche d'adresse."
        )
    if point.quality == ContactQuality.INVALID:
        raise ApplicationError(f"{point.display} est invalide : saisissez la coordonnée correcte (« Corriger »).")
    return contact_point_set_quality(point=point, quality=ContactQuality.VALID, actor=actor, case=case)
