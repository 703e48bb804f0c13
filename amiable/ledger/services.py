"""Posting to the client-funds ledger; only the money apps call it, inside their own transaction."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction

from amiable.audit.services import audit_record
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, to_money
from amiable.ledger.models import EntryKind, LedgerAccount, LedgerEntry, LedgerLine


@dataclass(frozen=True)
class Line:
    """One side of an entry to post; positive amounts are debits."""

    account: str
    amount: Decimal
    creditor_id: int | None = None
    structure_id: int | None = None
    case_id: int | None = None


@transaction.atomic
def ledger_post(*, kind: str, source: str, posted_on: date, memo: str, lines: list[Line], actor) -> LedgerEntry:
    """Write one balanced entry. An entry that does not sum to zero, or a second entry for the same source,
    is refused: the journal must stay exact and each movement be counted once."""
    if kind not in EntryKind.values:
        raise ApplicationError(f"Nature d'écriture inconnue : « {kind} ».")
    lines = [line for line in lines if to_money(line.amount) != ZERO]
    if not lines:
        raise ApplicationError("Une écriture sans montant ne peut pas être passée.")
    if any(line.account not in LedgerAccount.values for line in lines):
        raise ApplicationError("Compte inconnu dans l'écriture.")
    if sum((to_money(line.amount) for line in lines), ZERO) != ZERO:
        raise ApplicationError(f"Écriture déséquilibrée pour {source} : la somme des lignes n'est pas nulle.")
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                kind=kind, source=source, posted_on=posted_on, memo=memo[:300], created_by=actor
            )
    except IntegrityError as exc:
        raise ApplicationError(f"Cette opération est déjà passée au journal des fonds de tiers ({source}).") from exc
    LedgerLine.objects.bulk_create(
        [
            LedgerLine(
                entry=entry,
                account=line.account,
                amount=to_money(line.amount),
                posted_on=posted_on,
                creditor_id=line.creditor_id,
                structure_id=line.structure_id,
                case_id=line.case_id,
            )
            for line in lines
        ]
    )
    audit_record(
        actor=actor,
        verb="ledger.posted",
        target=entry,
        after={
            "kind": kind,
            "source": source,
            "posted_on": posted_on,
            "lines": [[x.account, str(x.amount)] for x in lines],
        },
    )
    return entry
