"""Reading a bank statement file of either format: XML is camt.053, fixed 120-character records are CFONB 120.
Each statement read must add up (old balance + movements = new balance), so that a file cut short or a
movement read wrong is refused rather than half imported."""

from amiable.banking.camt import camt_parse
from amiable.banking.cfonb import cfonb_parse, decode, looks_like_cfonb
from amiable.banking.parsed import ParsedFile, ParsedStatement
from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money

_XML_START = b"<"


def statement_file_parse(content: bytes) -> ParsedFile:
    """The statements of a file, whichever of the two formats it is in; a French refusal otherwise."""
    start = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start:
        raise ApplicationError("Le fichier est vide.")
    if start.startswith(_XML_START):
        parsed = camt_parse(content)
    elif looks_like_cfonb(decode(start[:16])):
        parsed = cfonb_parse(content)
    else:
        first = decode(start[:20]).splitlines()[0] if start else ""
        raise ApplicationError(
            f"Fichier non reconnu : ce n'est ni un relevé camt.053 (XML) ni un relevé CFONB 120 "
            f"(il commence par « {first} »)."
        )
    for statement in parsed.statements:
        _check_sum(statement)
    return parsed


def _check_sum(statement: ParsedStatement) -> None:
    movements = sum(
        (e.amount if e.is_credit else -e.amount for e in statement.entries), start=statement.opening_balance
    )
    if movements != statement.closing_balance:
        raise ApplicationError(
            f"Relevé incohérent ({statement.where}) : l'ancien solde {format_money(statement.opening_balance)} "
            f"et les mouvements donnent {format_money(movements)}, le nouveau solde dit "
            f"{format_money(statement.closing_balance)}. Le fichier est peut-être incomplet."
        )
