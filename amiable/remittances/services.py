"""Building the weekly remittances (C20, L6): per creditor and structure, what the client-funds account
holds for it from the payments collected up to the end of the week, less the reversals of remitted payments,
paid back in one remittance that debits the ledger in the same transaction."""

import logging
from dataclasses import dataclass, field
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from amiable.audit.services import audit_record
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO
from amiable.core.sequences import sequence_next
from amiable.creditors.models import Structure
from amiable.ledger.models import EntryKind, LedgerAccount
from amiable.ledger.services import Line, ledger_post
from amiable.remittances.models import Remittance, RemittanceLine
from amiable.remittances.selectors import Due, remittance_pending, week_before

logger = logging.getLogger(__name__)


@dataclass
class RemittanceRun:
    """The outcome of a run: the week's remittances (those of earlier runs too) and how many were made now."""

    start: date
    end: date
    remittances: list[dict] = field(default_factory=list)
    created: int = 0
    carried: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "week": [self.start.isoformat(), self.end.isoformat()],
            "remittances": self.remittances,
            "created": self.created,
        }


def _row(*, number: str, creditor: str, structure: str, lines: int, total) -> dict:
    return {"number": number, "creditor": creditor, "structure": structure, "lines": lines, "total": f"{total:.2f}"}


def remittances_build(*, week_of: date | None = None, actor=None, dry_run: bool = False) -> RemittanceRun:
    """Make the remittances of the week before `week_of` (by default the last complete week). Each
    structure is made in its own transaction: a failure leaves the structures already made and none
    half-made, and the next run makes the rest. A structure that already has its remittance for the week
    gets no second one (what came in late goes into the next week's). A net of zero or less makes no
    remittance: its payments and reversals stay pending and are counted again by the next week's run."""
    today = timezone.localdate()
    start, end = week_before(week_of or today)
    if end >= today:
        raise ApplicationError(f"La semaine du {start:%d/%m/%Y} au {end:%d/%m/%Y} n'est pas terminée.")
    pending = remittance_pending(until=end)
    structures = Structure.objects.select_related("creditor").in_bulk([key[1] for key in pending])
    done = {r.structure_id for r in Remittance.objects.filter(period_start=start)}
    run = RemittanceRun(start=start, end=end)
    for (creditor_id, structure_id), items in sorted(pending.items()):
        if structure_id in done:
            continue
        structure = structures[structure_id]
        total = sum((item.amount for item in items), ZERO)
        if total <= ZERO:
            run.carried.append({"creditor": structure.creditor.slug, "structure": structure.code, "total": total})
            continue
        if dry_run:
            run.remittances.append(
                _row(
                    number="", creditor=structure.creditor.slug, structure=structure.code, lines=len(items), total=total
                )
            )
            continue
        try:
            made_now = _remittance_make(
                structure=structure, creditor_id=creditor_id, start=start, end=end, items=items, actor=actor
            )
        except IntegrityError:
            # A run at the same moment remitted some of these items first: nothing of this structure was
            # written, and the next run counts what is still pending.
            logger.warning(
                "Reversement de %s (semaine du %s) non fait : lignes prises par un autre passage.",
                structure.code,
                start,
            )
            continue
        if made_now:
            run.created += 1
    made = (
        Remittance.objects.filter(period_start=start)
        .select_related("creditor", "structure")
        .annotate(line_count=Count("lines"))
        .order_by("creditor__slug", "structure__code", "pk")
    )
    run.remittances = [
        _row(number=r.number, creditor=r.creditor.slug, structure=r.structure.code, lines=r.line_count, total=r.total)
        for r in made
    ] + run.remittances
    return run


@transaction.atomic
def _remittance_make(
    *, structure: Structure, creditor_id: int, start: date, end: date, items: list[Due], actor
) -> Remittance | None:
    """One structure's remittance for the week, its lines and its ledger debit, all or nothing. The
    structure's row is locked so that two runs at once cannot both make it; the second finds it made."""
    Structure.objects.select_for_update().filter(pk=structure.pk).first()
    if Remittance.objects.filter(structure=structure, period_start=start).exists():
        return None
    total = sum((item.amount for item in items), ZERO)
    today = timezone.localdate()
    number = f"RV-{today.year}-{sequence_next(name='remittance', year=today.year):06d}"
    remittance = Remittance.objects.create(
        number=number, creditor_id=creditor_id, structure=structure, period_start=start, period_end=end, total=total
    )
    RemittanceLine.objects.bulk_create(
        [
            RemittanceLine(
                remittance=remittance, payment_id=item.payment_id, reversal_id=item.reversal_id, amount=item.amount
            )
            for item in items
        ]
    )
    ledger_post(
        kind=EntryKind.REMITTANCE,
        source=f"remittance:{remittance.pk}",
        posted_on=today,
        memo=f"Reversement {number} — {structure.code}, semaine du {start:%d/%m/%Y} au {end:%d/%m/%Y}",
        lines=[
            Line(account=LedgerAccount.BANK, amount=-total),
            Line(
                account=LedgerAccount.CREDITOR_FUNDS, amount=total, creditor_id=creditor_id, structure_id=structure.pk
            ),
        ],
        actor=actor,
    )
    audit_record(
        actor=actor,
        verb="remittance.prepared",
        target=remittance,
        after={
            "number": number,
            "structure": structure.code,
            "period_start": start,
            "period_end": end,
            "lines": len(items),
            "total": total,
        },
    )
    return remittance
