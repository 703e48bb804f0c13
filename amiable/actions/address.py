"""The address block of a letter by the French postal standard (NF Z10-011): at most 6 lines of at most
38 characters, the last line « CODE POSTAL VILLE » in capitals, no punctuation on the last lines."""

import re
import unicodedata

from amiable.cases.models import ContactKind, ContactPoint, ContactQuality
from amiable.core.exceptions import ApplicationError

MAX_LINES = 6
MAX_CHARS = 38


def _postal(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).upper()
    return re.sub(r"\s+", " ", re.sub(r"[,.;:]", " ", text)).strip()


def address_block(*, debtor, point: ContactPoint) -> list[str]:
    """The lines to print in the envelope window; refuses what the postal standard cannot carry."""
    name = " ".join(
        p
        for p in [debtor.get_civility_display() if debtor.civility else "", debtor.last_name.upper(), debtor.first_name]
        if p
    )
    lines = [name, point.line2, point.line1, f"{point.postal_code} {point.city}"]
    if point.country and point.country != "FR":
        lines.append(point.country)
    lines = [name] + [_postal(line) for line in lines[1:] if line and line.strip()]
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
        .order_by("-is_primary", "-created_at", "-pk")
        .first()
    )
    if point is None or not point.line1:
        raise ApplicationError("Aucune adresse valide : lancez une recherche d'adresse avant d'écrire au débiteur.")
    return point
