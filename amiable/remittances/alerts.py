"""The L6 alert: money collected for a creditor and still not remitted more than 7 days after its collection.
The weekly run remits the last complete week on the contract's weekday; anything older than that is late —
a remittance not run, a structure without IBAN whose transfer waits, a net carried because of reversals."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from amiable.accounts.models import Role, User
from amiable.core.dates import format_date
from amiable.core.money import ZERO, format_money
from amiable.creditors.models import Structure
from amiable.notifications.models import Notification
from amiable.notifications.services import notify
from amiable.payments.models import Payment
from amiable.remittances.selectors import remittance_pending

LATE_AFTER_DAYS = 7
KIND = "remittance_overdue"


@dataclass(frozen=True)
class LateStructure:
    structure: Structure
    count: int
    total: Decimal
    oldest: date


@dataclass
class Overdue:
    """What is late on `today`: per structure, the payments collected more than 7 days ago not yet remitted."""

    today: date
    structures: list[LateStructure] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(s.count for s in self.structures)

    @property
    def total(self) -> Decimal:
        return sum((s.total for s in self.structures), ZERO)

    def __bool__(self) -> bool:
        return bool(self.structures)


def remittances_overdue(*, today: date | None = None) -> Overdue:
    """The money held more than 7 days after its collection, per structure. Reads only what is not remitted
    yet (the ledger's lines of pending payments), never the whole history."""
    today = today or timezone.localdate()
    until = today - timedelta(days=LATE_AFTER_DAYS + 1)
    pending = remittance_pending(until=until)
    payment_ids = [item.payment_id for items in pending.values() for item in items if item.payment_id]
    collected = (
        dict(Payment.objects.filter(pk__in=payment_ids).values_list("pk", "collected_on")) if payment_ids else {}
    )
    structures = Structure.objects.select_related("creditor").in_bulk([key[1] for key in pending])
    late = []
    for (_creditor_id, structure_id), items in sorted(pending.items()):
        paid = [item for item in items if item.payment_id and item.amount > ZERO]
        if not paid:
            continue
        late.append(
            LateStructure(
                structure=structures[structure_id],
                count=len(paid),
                total=sum((item.amount for item in paid), ZERO),
                oldest=min(collected[item.payment_id] for item in paid),
            )
        )
    return Overdue(today=today, structures=late)


def remittances_overdue_notify(*, today: date | None = None) -> Overdue:
    """Tell the agency's supervisors and administrators, once a day, what is late (nothing when nothing is)."""
    overdue = remittances_overdue(today=today)
    if not overdue:
        return overdue
    now = timezone.localtime()
    if Notification.objects.filter(kind=KIND, created_at__date=now.date()).exists():
        return overdue
    people = User.objects.filter(Q(role=Role.SUPERVISOR) | Q(role=Role.AGENCY_ADMIN), is_active=True).order_by("pk")
    body = "\n".join(
        f"{s.structure.creditor.name} — {s.structure.code} : {format_money(s.total)} en {s.count} paiement(s), "
        f"le plus ancien encaissé le {format_date(s.oldest)}"
        for s in overdue.structures
    )
    notify(
        recipients=list(people),
        kind=KIND,
        title=f"Fonds non reversés depuis plus de {LATE_AFTER_DAYS} jours : {format_money(overdue.total)}",
        body=body,
        url="/reversements/",
        urgent=True,
    )
    return overdue
