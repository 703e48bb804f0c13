"""The L6 alert: money collected for a creditor and still not remitted more than 7 days after its collection.
The weekly run remits the last complete week on the contract's weekday; anything older than that is late —
a remittance not run, a net carried because of reversals, or a remittance made whose transfer the bank has
not executed yet (a structure without IBAN, a transfer file not handed to the bank)."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import CharField, Count, Min, Q, Sum, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from amiable.accounts.models import Role, User
from amiable.core.dates import format_date
from amiable.core.money import ZERO, format_money, to_money
from amiable.ledger.models import EntryKind, LedgerAccount, LedgerLine
from amiable.notifications.models import Notification
from amiable.notifications.services import notify
from amiable.payments.models import Payment, PaymentMethod
from amiable.remittances.models import Remittance, RemittanceStatus

LATE_AFTER_DAYS = 7
# A transfer order issued and not seen executed on a statement after this many days is taken as lost.
TRANSFER_EXECUTION_DAYS = 5
KIND = "remittance_overdue"


@dataclass(frozen=True)
class LateStructure:
    creditor_name: str
    creditor_slug: str
    structure_code: str
    count: int
    total: Decimal
    oldest: date
    in_remittances: Decimal = ZERO  # part of `total` in remittances made but not executed


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
    """The money held more than 7 days after its collection, per structure, in two queries whatever the
    number of payments: the ledger's lines on the structures' funds of the payments not yet in a remittance
    (what overpaid a claim is held for the debtor and is not counted; a reversed payment is no longer money
    held), and the remittances not executed whose oldest payment is that old."""
    today = today or timezone.localdate()
    until = today - timedelta(days=LATE_AFTER_DAYS + 1)
    late_sources = (
        Payment.objects.filter(
            collected_on__lte=until, remitted=False, remittance_line__isnull=True, reversal__isnull=True
        )
        .exclude(method=PaymentMethod.DIRECT)
        .annotate(ledger_source=Concat(Value("payment:"), Cast("pk", output_field=CharField())))
        .values("ledger_source")
    )
    rows = (
        LedgerLine.objects.filter(
            account=LedgerAccount.CREDITOR_FUNDS,
            entry__kind=EntryKind.PAYMENT,
            entry__posted_on__lte=until,
            entry__source__in=late_sources,
            amount__lt=0,
        )
        .values("structure__creditor__name", "structure__creditor__slug", "structure__code")
        .annotate(count=Count("entry_id", distinct=True), total=Sum("amount"), oldest=Min("entry__posted_on"))
    )
    late: dict[tuple, LateStructure] = {}
    for row in rows:
        key = (row["structure__creditor__name"], row["structure__code"])
        late[key] = LateStructure(
            creditor_name=row["structure__creditor__name"],
            creditor_slug=row["structure__creditor__slug"],
            structure_code=row["structure__code"],
            count=row["count"],
            total=-to_money(row["total"]),
            oldest=row["oldest"],
        )
    # Remittances made whose transfer order is not issued (no IBAN, files failing), or issued so long ago
    # that the bank should have executed it: the money is still in the client-funds account. A transfer
    # issued recently counts as remitted (the agency did its part; the bank executes it the next business day).
    transfer_lost = timezone.now() - timedelta(days=TRANSFER_EXECUTION_DAYS)
    waiting = (
        Remittance.objects.filter(
            Q(status=RemittanceStatus.PREPARED) | Q(status=RemittanceStatus.SENT, sent_at__lt=transfer_lost)
        )
        .values("pk", "total", "creditor__name", "creditor__slug", "structure__code")
        .annotate(oldest=Min("lines__payment__collected_on"), count=Count("lines__payment"))
        .filter(oldest__lte=until)
    )
    for row in waiting:
        key = (row["creditor__name"], row["structure__code"])
        total = to_money(row["total"])
        before = late.get(key)
        late[key] = LateStructure(
            creditor_name=row["creditor__name"],
            creditor_slug=row["creditor__slug"],
            structure_code=row["structure__code"],
            count=row["count"] + (before.count if before else 0),
            total=total + (before.total if before else ZERO),
            oldest=min(row["oldest"], before.oldest) if before else row["oldest"],
            in_remittances=total + (before.in_remittances if before else ZERO),
        )
    return Overdue(today=today, structures=[late[key] for key in sorted(late)])


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
        f"{s.creditor_name} — {s.structure_code} : {format_money(s.total)} en {s.count} paiement(s), "
        f"le plus ancien encaissé le {format_date(s.oldest)}"
        + (f" (dont {format_money(s.in_remittances)} en reversement non exécuté)" if s.in_remittances else "")
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
