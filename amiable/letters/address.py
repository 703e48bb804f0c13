"""The address block of a letter by the French postal standard (NF Z10-011): at most 6 lines of at most
38 characters, the last line « CODE POSTAL VILLE » in capitals, no punctuation on the last lines."""

import re
import unicodedata

from amiable.cases.models import ContactKind, ContactPoint, ContactQuality
from amiable.core.exceptions import ApplicationError

MAX_LINES = 6
MAX_CHARS = 38


def _capitals(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).upper()


def _postal(text: str) -> str:
    """A delivery line (street, complement): capitals without accents, no comma, full stop or colon."""
    return re.sub(r"\s+", " ", re.sub(r"[,.;:]", " ", _capitals(text))).strip()


def _locality(text: str) -> str:
    """The last lines (« 75011 PARIS », a country): no punctuation at all, hyphens and apostrophes become
    spaces as in La Poste's reference file (« L HAY LES ROSES »)."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]|_", " ", _capitals(text))).strip()


def address_block(*, debtor, point: ContactPoint) -> list[str]:
    """The lines to print in the envelope window; refuses what the postal standard cannot carry."""
    name = " ".join(
        p
        for p in [debtor.get_civility_display() if debtor.civility else "", debtor.last_name.upper(), debtor.first_name]
        if p
    )
    french = not point.country or point.country == "FR"
    if french and not (re.fullmatch(r"\d{5}", point.postal_code.strip()) and point.city.strip()):
        raise ApplicationError(
            f"Adresse incomplète : code postal à 5 chiffres et ville obligatoires (« {point.display} »). "
            "Corrigez l'adresse avant d'émettre le courrier."
        )
    lines = [name] + [_postal(line) for line in (point.line2, point.line1) if line and line.strip()]
    lines.append(_locality(f"{point.postal_code} {point.city}"))
    if not french:
        lines.append(_locality(point.country))
    if len(lines) > MAX_LINES:
        raise ApplicationError(f"L'adresse compte {len(lines)} lignes : la norme postale en admet {MAX_LINES}.")
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_CHARS:
            raise ApplicationError(
                f"Ligne {number} de l'adresse trop longue pour la norme postale : « {line} » "
                f"({len(line)} caractères sur {MAX_CHARS}). Corrigez l'adresse avant d'émettre le courrier."
            )
    return lines


def mailing_address(debtor) -> ContactPoint:
    """The debtor's address to write to: the primary valid one, else the most recent valid one."""
    point = (
        ContactPoint.objects.filter(debtor=debtor, kind=ContactKind.ADDRESS, quality=ContactQuality.VALID)
        .exclude(line1="")
        .order_by("-is_primary", "-created_at", "-pk")
        .first()
    )
    if point is None:
        raise ApplicationError("Aucune adresse valide : lancez une recherche d'adresse avant d'écrire au débiteur.")
    return point
