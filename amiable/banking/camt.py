"""Reading ISO 20022 camt.053 bank-to-customer statements, versions 001.02 to 001.08.

The paths below are the same in every version but for a few (the status, the parties' names), and the
namespace changes with the version: every lookup matches element names whatever their namespace. The XML
is read without resolving entities, without any network access and without a document type."""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import ZoneInfo

from lxml import etree

from amiable.banking.parsed import CAMT053, ParsedEntry, ParsedFile, ParsedStatement
from amiable.core.exceptions import ApplicationError

NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0([2-8])")
PARIS = ZoneInfo("Europe/Paris")
_AMOUNT = re.compile(r"\d{1,15}(?:\.\d{1,2})?")
# Entries the bank has not booked yet (pending, information only) are not on the balance: they come back
# booked on a later statement.
_BOOKED = {"", "BOOK"}
_IGNORED_END_TO_END = {"NOTPROVIDED", "NOT PROVIDED"}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, remove_comments=True
    )


@cache
def _xpath(path: str) -> etree.XPath:
    """`A/B/C` as a relative XPath that ignores namespaces."""
    return etree.XPath("/".join(f"*[local-name()='{step}']" for step in path.split("/")))


def _all(element, path: str) -> list:
    return _xpath(path)(element)


def _first(element, path: str):
    found = _xpath(path)(element)
    return found[0] if found else None


def _text(element, path: str) -> str:
    found = _first(element, path)
    return " ".join((found.text or "").split()) if found is not None else ""


def _where(element) -> str:
    return f"ligne {element.sourceline}" if element.sourceline else "position inconnue"


def camt_parse(content: bytes) -> ParsedFile:
    """Every statement (`Stmt`) of a camt.053 document; anything else is refused with a French message."""
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise ApplicationError(f"Fichier XML illisible (ligne {exc.lineno}) : {exc.msg}.") from exc
    if root.getroottree().docinfo.doctype:
        raise ApplicationError("Fichier XML refusé : il contient une déclaration DOCTYPE, qu'un relevé n'a pas.")
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Document" or not NAMESPACE.fullmatch(namespace):
        raise ApplicationError(
            f"Document XML non reconnu : « {namespace or etree.QName(root).localname} » n'est pas un relevé "
            "camt.053 (versions 001.02 à 001.08 : urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 à .08)."
        )
    statements = _all(root, "BkToCstmrStmt/Stmt")
    if not statements:
        raise ApplicationError("Le relevé camt.053 ne contient aucun relevé de compte (élément Stmt).")
    return ParsedFile(format=CAMT053, statements=tuple(_statement(stmt) for stmt in statements))


def _statement(stmt) -> ParsedStatement:
    statement_id = _text(stmt, "Id")
    where = f"relevé {statement_id or 'sans identifiant'} ({_where(stmt)})"
    account = _text(stmt, "Acct/Id/IBAN") or _text(stmt, "Acct/Id/Othr/Id")
    if not account:
        raise ApplicationError(f"{where} : le compte n'est pas identifié (Acct/Id/IBAN absent).")
    balances = {}
    for balance in _all(stmt, "Bal"):
        code = _text(balance, "Tp/CdOrPrtry/Cd")
        balances.setdefault(code, balance)
    opening = balances.get("OPBD") if "OPBD" in balances else balances.get("PRCD")
    closing = balances.get("CLBD")
    if opening is None:
        raise ApplicationError(f"{where} : le solde d'ouverture (Bal de type OPBD) est absent.")
    if closing is None:
        raise ApplicationError(f"{where} : le solde de clôture (Bal de type CLBD) est absent.")
    opening_balance, opening_currency = _balance_amount(opening)
    closing_balance, _ = _balance_amount(closing)
    currency = _text(stmt, "Acct/Ccy") or opening_currency
    entries = []
    for entry in _all(stmt, "Ntry"):
        parsed = _entry(entry)
        if parsed is not None:
            entries.append(parsed)
    return ParsedStatement(
        format=CAMT053,
        account=account.replace(" ", "").upper(),
        currency=currency,
        opening_balance=opening_balance,
        opening_on=_date_of(opening, "Dt", f"solde d'ouverture, {_where(opening)}"),
        closing_balance=closing_balance,
        closing_on=_date_of(closing, "Dt", f"solde de clôture, {_where(closing)}"),
        entries=tuple(entries),
        statement_id=statement_id,
        where=where,
    )


def _balance_amount(balance) -> tuple[Decimal, str]:
    where = f"solde, {_where(balance)}"
    amount, currency = _amount(balance, where)
    indicator = _text(balance, "CdtDbtInd")
    if indicator not in {"CRDT", "DBIT"}:
        raise ApplicationError(f"{where} : sens du solde « {indicator} » inconnu (CRDT ou DBIT attendu).")
    return (amount if indicator == "CRDT" else -amount), currency


def _amount(element, where: str) -> tuple[Decimal, str]:
    node = _first(element, "Amt")
    text = (node.text or "").strip() if node is not None else ""
    if not _AMOUNT.fullmatch(text):
        raise ApplicationError(f"{where} : montant « {text} » illisible.")
    currency = (node.get("Ccy") or "").strip().upper()
    if not currency:
        raise ApplicationError(f"{where} : la devise du montant (attribut Ccy) est absente.")
    try:
        return Decimal(text).quantize(Decimal("0.01")), currency
    except InvalidOperation as exc:  # pragma: no cover - the pattern already bounds it
        raise ApplicationError(f"{where} : montant « {text} » illisible.") from exc


def _date_of(element, path: str, where: str, *, required: bool = True) -> date | None:
    """`path/Dt` (a day) or `path/DtTm` (an instant, read as the day it is in Paris)."""
    day = _text(element, f"{path}/Dt")
    instant = _text(element, f"{path}/DtTm")
    try:
        if day:
            return date.fromisoformat(day[:10])
        if instant:
            moment = datetime.fromisoformat(instant)
            return moment.astimezone(PARIS).date() if moment.tzinfo else moment.date()
    except ValueError as exc:
        raise ApplicationError(f"{where} : date « {day or instant} » illisible.") from exc
    if required:
        raise ApplicationError(f"{where} : la date est absente.")
    return None


def _entry(entry) -> ParsedEntry | None:
    where = f"mouvement, {_where(entry)}"
    status = _text(entry, "Sts") or _text(entry, "Sts/Cd")
    if status not in _BOOKED:
        return None
    amount, currency = _amount(entry, where)
    indicator = _text(entry, "CdtDbtInd")
    if indicator not in {"CRDT", "DBIT"}:
        raise ApplicationError(f"{where} : sens « {indicator} » inconnu (CRDT ou DBIT attendu).")
    is_credit = indicator == "CRDT"
    texts: list[str] = []
    parties: list[str] = []
    party = "Dbtr" if is_credit else "Cdtr"
    for details in _all(entry, "NtryDtls/TxDtls"):
        texts.extend(_text_of(line) for line in _all(details, "RmtInf/Ustrd"))
        for structured in _all(details, "RmtInf/Strd"):
            texts.extend(_text_of(ref) for ref in _all(structured, "CdtrRefInf/Ref"))
            texts.extend(_text_of(line) for line in _all(structured, "AddtlRmtInf"))
        end_to_end = _text(details, "Refs/EndToEndId")
        if end_to_end.upper() not in _IGNORED_END_TO_END:
            texts.append(end_to_end)
        texts.append(_text(details, "AddtlTxInf"))
        parties.append(_text(details, f"RltdPties/{party}/Nm") or _text(details, f"RltdPties/{party}/Pty/Nm"))
    texts.append(_text(entry, "AddtlNtryInf"))
    return ParsedEntry(
        amount=amount,
        is_credit=is_credit,
        booked_on=_date_of(entry, "BookgDt", where),
        value_on=_date_of(entry, "ValDt", where, required=False),
        bank_ref=(_text(entry, "NtryRef") or _text(entry, "AcctSvcrRef"))[:64],
        texts=_unique(texts),
        counterparty=", ".join(_unique(parties))[:200],
        currency=currency,
        where=where,
    )


def _text_of(element) -> str:
    return " ".join((element.text or "").split())


def _unique(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))
