"""SEPA credit transfer files (ISO 20022 pain.001.001.09) for the money sent back to the creditors.

Built with ``sepaxml`` and validated, before it is returned, against the pain.001.001.09 XSD that
``sepaxml`` ships (nothing is fetched), compiled once per process: sepaxml's own validation compiles the
schema again for every file, which cost a weekly run seconds per structure. Amounts are Decimal and
become whole cents before they reach ``sepaxml``, so the control sum (CtrlSum) and the number of
transactions (NbOfTxs) are exact. Banks
accept only the SEPA Latin character set: names and remittance information are transliterated
(accents removed, other characters replaced by a space); identifiers are refused if they fall outside
it, since a changed reference would no longer match the bank statement.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources

from django.utils import timezone
from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from text_unidecode import unidecode

from amiable.core.money import to_money

__all__ = ["SCHEMA", "Transfer", "credit_transfer_xml", "sepa_text", "xsd_path"]

SCHEMA = "pain.001.001.09"

# The SEPA Latin character set (EPC guidelines): what every bank of the scheme must accept.
_NOT_SEPA = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
# References: the same set without the space; no leading or trailing « / » and no « // » (EPC rule).
_REFERENCE = re.compile(r"[A-Za-z0-9\-?:().,'+]([A-Za-z0-9/\-?:().,'+]*[A-Za-z0-9\-?:().,'+])?")
_SPACES = re.compile(r"\s+")
_NAME_MAX = 70  # EPC limit for names (the XSD allows 140)
_REMITTANCE_MAX = 140  # one unstructured remittance line
_ID_MAX = 35


@dataclass(frozen=True)
class Transfer:
    """One credit transfer: to whom, how much, and the reference the creditor will see."""

    end_to_end_id: str
    amount: Decimal
    creditor_name: str
    creditor_iban: str
    creditor_bic: str
    remittance_info: str


def sepa_text(value: str, limit: int) -> str:
    """`value` in the SEPA Latin character set: accents removed, anything else a space, cut to `limit`."""
    text = _NOT_SEPA.sub(" ", unidecode(value or ""))
    return _SPACES.sub(" ", text).strip()[:limit].rstrip()


def xsd_path():
    """The pain.001.001.09 schema shipped with sepaxml (a Traversable usable as a path)."""
    return resources.files("sepaxml").joinpath("schemas", f"{SCHEMA}.xsd")


@functools.cache
def _schema():
    """The pain.001.001.09 schema, compiled on first use and kept for the process (read-only afterwards)."""
    import xmlschema  # imported late, as sepaxml does: xmlschema patches ElementTree when imported

    return xmlschema.XMLSchema(str(xsd_path()))


def _validated(xml: bytes) -> bytes:
    """`xml` once checked against the schema; sepaxml's ValidationError, with its message, when it is not."""
    import xmlschema

    try:
        _schema().validate(xml.decode())
    except xmlschema.XMLSchemaValidationError as exc:
        raise ValidationError(
            "The output SEPA file contains validation errors. This is likely due to an illegal value in one of "
            "your input fields."
        ) from exc
    return xml


def _reference(value: str, what: str) -> str:
    if not value or len(value) > _ID_MAX or not _REFERENCE.fullmatch(value) or "//" in value:
        raise ValueError(
            f"{what} invalide : « {value} » (1 à {_ID_MAX} caractères latins SEPA, sans espace, "
            "sans « / » au début, à la fin ni doublé)."
        )
    return value


def _account(iban: str, bic: str) -> tuple[str, str]:
    """The IBAN (checksum verified) and the BIC (optional) in their compact form."""
    iban = stdnum_iban.compact(iban or "")
    bic = stdnum_bic.compact(bic or "")
    if not stdnum_iban.is_valid(iban):
        raise ValueError(f"IBAN invalide : « {iban} ».")
    if bic and not stdnum_bic.is_valid(bic):
        raise ValueError(f"BIC invalide : « {bic} ».")
    return iban, bic


def _cents(amount: Decimal) -> int:
    """Whole cents of a positive amount given to the cent; anything else is an error, never a rounding."""
    if isinstance(amount, float) or not isinstance(amount, Decimal | int):
        raise TypeError("Montant de virement : un Decimal est attendu.")
    money = to_money(amount)
    if money != amount:
        raise ValueError(f"Montant de virement au-delà du centime : {amount}.")
    if money <= 0:
        raise ValueError(f"Montant de virement non positif : {money}.")
    return int(money.scaleb(2))


class _Transfer(SepaTransfer):
    """sepaxml's transfer with our own payment information id instead of a random one."""

    payment_info_id = ""

    def _finalize_batch(self):
        super()._finalize_batch()
        for node in self._xml.iter("PmtInfId"):
            node.text = self.payment_info_id


def credit_transfer_xml(
    *,
    message_id: str,
    debtor_name: str,
    debtor_iban: str,
    debtor_bic: str,
    transfers: list[Transfer],
    execution_date: date,
    created_at: datetime | None = None,
) -> bytes:
    """The pain.001.001.09 file ordering `transfers` from the debtor's account (the client-funds account)
    on `execution_date`, in one batch whose id is `message_id`. Raises ValueError on a bad amount,
    account or reference, or when the result does not match the XSD."""
    if not transfers:
        raise ValueError("Un ordre de virement sans aucun virement n'a pas de sens.")
    message_id = _reference(message_id, "Identifiant du message")
    iban, bic = _account(debtor_iban, debtor_bic)
    if not sepa_text(debtor_name, _NAME_MAX):
        raise ValueError("Le nom du titulaire du compte débité est obligatoire.")
    config = {"name": sepa_text(debtor_name, _NAME_MAX), "IBAN": iban, "batch": True, "currency": "EUR"}
    if bic:
        config["BIC"] = bic
    sepa = _Transfer(config, schema=SCHEMA, clean=False)
    sepa.payment_info_id = message_id
    header = sepa._xml.find("CstmrCdtTrfInitn/GrpHdr")
    header.find("MsgId").text = message_id
    # Paris time with its offset (sepaxml would write the machine's clock without one).
    created = timezone.localtime(created_at or timezone.now()).replace(microsecond=0)
    header.find("CreDtTm").text = created.isoformat()
    seen: set[str] = set()
    for transfer in transfers:
        reference = _reference(transfer.end_to_end_id, "Référence de bout en bout")
        if reference in seen:
            raise ValueError(f"Référence de bout en bout en double : « {reference} ».")
        seen.add(reference)
        creditor_iban, creditor_bic = _account(transfer.creditor_iban, transfer.creditor_bic)
        name = sepa_text(transfer.creditor_name, _NAME_MAX)
        description = sepa_text(transfer.remittance_info, _REMITTANCE_MAX)
        if not name or not description:
            raise ValueError(f"Virement {reference} : le nom du bénéficiaire et le libellé sont obligatoires.")
        payment = {
            "name": name,
            "IBAN": creditor_iban,
            "amount": _cents(transfer.amount),
            "execution_date": execution_date,
            "description": description,
            "endtoend_id": reference,
        }
        if creditor_bic:
            payment["BIC"] = creditor_bic
        sepa.add_payment(payment)
    try:
        return _validated(sepa.export(validate=False))
    except ValueError:
        raise
    except Exception as exc:  # sepaxml's ValidationError: a value the checks above let through
        raise ValueError(f"Le fichier de virement ne respecte pas le schéma pain.001.001.09 : {exc}") from exc
