"""Reading French CFONB 120 account statements ("relevé de compte sur support informatique").

Each record is 120 characters: 01 the old balance, 04 a movement, 05 a complement of the movement before it
(its text goes with the movement's label), 07 the new balance. Banks differ in how they write the file:
CRLF or LF line ends, or none at all (a record every 120 characters), trailing spaces trimmed, Latin-1 or
UTF-8. Columns below are 0-based slices of the 120-character record."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from amiable.banking.parsed import CFONB120, ParsedEntry, ParsedFile, ParsedStatement
from amiable.core.exceptions import ApplicationError

RECORD_LENGTH = 120
CENT = Decimal("0.01")
BANK = slice(2, 7)
BRANCH = slice(11, 16)
CURRENCY = slice(16, 19)
DECIMALS = 19
ACCOUNT = slice(21, 32)
DATE = slice(34, 40)  # balance date (01, 07), booking date (04, 05)
AMOUNT = slice(90, 104)
# 04 (movement)
OPERATION_CODE = slice(32, 34)
VALUE_DATE = slice(42, 48)
LABEL = slice(48, 79)
ENTRY_NUMBER = slice(81, 88)
REFERENCE = slice(104, 120)
# 05 (complement)
QUALIFIER = slice(45, 48)
COMPLEMENT = slice(48, 118)

# The last character of an amount carries its last digit and its sign (signed overpunch).
_OVERPUNCH = {c: (1, d) for d, c in enumerate("{ABCDEFGHI")} | {c: (-1, d) for d, c in enumerate("}JKLMNOPQR")}
_DIGITS = re.compile(r"\d{13}")
_LINE_ENDS = re.compile(r"\r\n|\r|\n")
RECORD_TYPES = {"01", "04", "05", "07"}
# The 05 qualifiers that name the other party of a movement: the payer of a credit, the payee of a debit.
PAYER, PAYEE = "NPY", "NBE"


@dataclass
class _Record:
    text: str
    where: str

    @property
    def kind(self) -> str:
        return self.text[:2]

    def field(self, columns: slice) -> str:
        return self.text[columns].strip()

    @property
    def account_key(self) -> str:
        return self.text[BANK] + self.text[BRANCH] + self.text[ACCOUNT]


def looks_like_cfonb(text: str) -> bool:
    """A CFONB file starts with an old-balance record (01) whose bank code is numeric."""
    return len(text) >= 7 and text[:2] == "01" and text[2:7].isdigit()


def decode(content: bytes) -> str:
    """UTF-8 (with or without its mark) when it is valid, else Windows-1252, else Latin-1: the encodings French
    banks write."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def records(text: str) -> list[_Record]:
    """The records of the file, each padded to 120 characters, with where it is (line or record number)."""
    text = text.rstrip("\x1a\x00 \t\r\n")  # an end-of-file mark, padding or final line end
    if not _LINE_ENDS.search(text) and len(text) > RECORD_LENGTH:
        chunks = [text[i : i + RECORD_LENGTH] for i in range(0, len(text), RECORD_LENGTH)]
        numbered = [(f"enregistrement {n}", chunk) for n, chunk in enumerate(chunks, 1)]
    else:
        numbered = [(f"ligne {n}", line) for n, line in enumerate(_LINE_ENDS.split(text), 1)]
    result = []
    for where, line in numbered:
        line = line.rstrip()
        if not line:
            continue
        if len(line) > RECORD_LENGTH:
            raise ApplicationError(
                f"Relevé CFONB, {where} : {len(line)} caractères au lieu de {RECORD_LENGTH} "
                "(ce n'est pas un relevé CFONB 120, ou les lignes sont mal découpées)."
            )
        result.append(_Record(text=line.ljust(RECORD_LENGTH), where=where))
    return result


def cfonb_parse(content: bytes) -> ParsedFile:
    """Every statement (01 … 07) of a CFONB 120 file; anything malformed is refused with where it is."""
    items = records(decode(content))
    if not items:
        raise ApplicationError("Le relevé CFONB est vide.")
    statements: list[ParsedStatement] = []
    opening: _Record | None = None
    movements: list[tuple[_Record, list[_Record]]] = []
    for record in items:
        kind = record.kind
        if kind not in RECORD_TYPES:
            raise ApplicationError(
                f"Relevé CFONB, {record.where} : type d'enregistrement « {kind} » inconnu (01, 04, 05 ou 07 attendu)."
            )
        _check_length(record)
        if kind == "01":
            if opening is not None:
                raise ApplicationError(
                    f"Relevé CFONB, {record.where} : un nouveau relevé (01) commence alors que celui de "
                    f"{_the(opening)} n'a pas de nouveau solde (07)."
                )
            opening, movements = record, []
            continue
        if opening is None:
            raise ApplicationError(
                f"Relevé CFONB, {record.where} : enregistrement {kind} hors d'un relevé (l'ancien solde 01 manque)."
            )
        if record.account_key != opening.account_key:
            raise ApplicationError(
                f"Relevé CFONB, {record.where} : l'enregistrement {kind} est d'un autre compte "
                f"({_account_words(record)}) que l'ancien solde de {_the(opening)} ({_account_words(opening)})."
            )
        if kind == "04":
            movements.append((record, []))
        elif kind == "05":
            if not movements:
                raise ApplicationError(
                    f"Relevé CFONB, {record.where} : complément (05) sans mouvement (04) qui le précède."
                )
            movements[-1][1].append(record)
        else:
            statements.append(_statement(opening, movements, record))
            opening, movements = None, []
    if opening is not None:
        raise ApplicationError(
            f"Relevé CFONB incomplet : le relevé commencé à {_the(opening)} n'a pas de nouveau solde (07) ; "
            "le fichier est peut-être tronqué."
        )
    return ParsedFile(format=CFONB120, statements=tuple(statements))


def _check_length(record: _Record) -> None:
    """A record cut short before its last required zone was truncated, not merely trimmed of its spaces."""
    needed = QUALIFIER.stop if record.kind == "05" else AMOUNT.stop
    if len(record.text.rstrip()) < needed:
        raise ApplicationError(
            f"Relevé CFONB, {record.where} : enregistrement {record.kind} tronqué "
            f"({len(record.text.rstrip())} caractères utiles, {needed} au moins attendus)."
        )


def _the(record: _Record) -> str:
    """`la ligne 3` or `l'enregistrement 3`, to follow « de » or « à »."""
    return f"la {record.where}" if record.where.startswith("ligne") else f"l'{record.where}"


def _account_words(record: _Record) -> str:
    return f"banque {record.text[BANK]}, guichet {record.text[BRANCH]}, compte {record.text[ACCOUNT]}"


def _statement(opening: _Record, movements: list, closing: _Record) -> ParsedStatement:
    currency = opening.field(CURRENCY)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ApplicationError(f"Relevé CFONB, {opening.where} : code devise « {currency} » illisible.")
    entries = tuple(_entry(movement, complements) for movement, complements in movements)
    return ParsedStatement(
        format=CFONB120,
        account=opening.account_key,
        currency=currency,
        opening_balance=amount_of(opening),
        opening_on=date_of(opening, DATE, "date de l'ancien solde"),
        closing_balance=amount_of(closing),
        closing_on=date_of(closing, DATE, "date du nouveau solde"),
        entries=entries,
        where=_span(opening, closing),
    )


def _span(first: _Record, last: _Record) -> str:
    """`lignes 3 à 9` (or `enregistrements …` in a file without line ends)."""
    noun, start = first.where.split(" ")
    return f"{noun}s {start} à {last.where.split(' ')[1]}"


def _entry(movement: _Record, complements: list[_Record]) -> ParsedEntry:
    amount = amount_of(movement)
    texts = [movement.field(LABEL)]
    counterparty = ""
    for complement in complements:
        qualifier = complement.field(QUALIFIER)
        text = complement.field(COMPLEMENT)
        if qualifier == (PAYER if amount >= 0 else PAYEE) and not counterparty:
            counterparty = text
        texts.append(text)
    return ParsedEntry(
        amount=abs(amount),
        is_credit=amount >= 0,
        booked_on=date_of(movement, DATE, "date de comptabilisation"),
        value_on=date_of(movement, VALUE_DATE, "date de valeur", required=False),
        bank_ref=movement.field(REFERENCE),
        texts=tuple(dict.fromkeys(" ".join(text.split()) for text in texts if text.strip())),
        counterparty=" ".join(counterparty.split())[:200],
        currency=movement.field(CURRENCY),
        where=movement.where,
    )


def amount_of(record: _Record) -> Decimal:
    """The signed amount of a 01, 04 or 07 record: 13 digits and an overpunch character, with the number of
    decimals the record gives."""
    zone = record.text[AMOUNT]
    decimals = record.text[DECIMALS]
    sign_digit = _OVERPUNCH.get(zone[-1:])
    if not _DIGITS.fullmatch(zone[:-1]) or sign_digit is None or not decimals.isdigit():
        raise ApplicationError(
            f"Relevé CFONB, {record.where} : montant « {zone.strip()} » illisible "
            f"(13 chiffres et un caractère de signe attendus, nombre de décimales « {decimals} »)."
        )
    sign, last = sign_digit
    value = sign * Decimal(int(zone[:-1] + str(last))).scaleb(-int(decimals))
    if value != value.quantize(CENT):
        raise ApplicationError(f"Relevé CFONB, {record.where} : montant à plus de deux décimales ({value}).")
    return value.quantize(CENT)


def date_of(record: _Record, columns: slice, name: str, *, required: bool = True) -> date | None:
    """A DDMMYY date (years 2000 to 2099)."""
    text = record.text[columns]
    if not required and text.strip(" 0") == "":
        return None
    try:
        if not text.isdigit():
            raise ValueError(text)
        return date(2000 + int(text[4:6]), int(text[2:4]), int(text[0:2]))
    except ValueError as exc:
        raise ApplicationError(f"Relevé CFONB, {record.where} : {name} « {text.strip()} » illisible (JJMMAA).") from exc
