"""The debits of the client-funds account matched to the remittances they paid (L13): a remittance's
transfer is executed when the bank books its debit. The debit names the remittance by the transfer's
end-to-end reference (its number); a bank that drops it is matched on the amount and the date instead,
only when exactly one remittance sent fits."""

import re
from datetime import date, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from amiable.audit.services import audit_record
from amiable.banking.hooks import Outgoing
from amiable.banking.models import BankEntry, EntryStatus
from amiable.core.money import ZERO, to_money
from amiable.remittances.models import Remittance, RemittanceStatus

NUMBER = re.compile(r"\bRV-\d{4}-\d{6}\b")
# How long after its transfer file a debit of the same amount is taken for the remittance's.
AMOUNT_MATCH_DAYS = 10
# How far back the daily pass looks for debits not yet matched (older ones are fees, or matched by hand).
PENDING_DAYS = 60


def _by_number(entries: list[BankEntry]) -> dict[str, Remittance]:
    numbers = {n for entry in entries for n in NUMBER.findall(entry.label.upper())}
    if not numbers:
        return {}
    return {
        r.number: r
        for r in Remittance.objects.filter(number__in=numbers, bank_entry__isnull=True).select_related("structure")
    }


def _by_amount(entries: list[BankEntry]) -> dict:
    """The remittances not yet matched whose total is one of the debits' amounts, by amount."""
    amounts = {entry.amount for entry in entries}
    found: dict = {}
    rows = (
        Remittance.objects.filter(
            total__in=amounts, bank_entry__isnull=True, status__in=[RemittanceStatus.SENT, RemittanceStatus.EXECUTED]
        )
        .select_related("structure")
        .order_by("pk")
    )
    for remittance in rows:
        found.setdefault(to_money(remittance.total), []).append(remittance)
    return found


def _fits(remittance: Remittance, entry: BankEntry) -> bool:
    sent = timezone.localdate(remittance.sent_at or remittance.created_at)
    return sent <= entry.booked_on <= sent + timedelta(days=AMOUNT_MATCH_DAYS)


def remittance_debits_match(entries: list[BankEntry], actor) -> int:
    """Match each debit to the remittance it paid; a match sets the remittance executed on the booking date
    (or keeps the date given by hand) and the debit « rapproché d'un reversement ». Runs inside the import's
    transaction: a failed import matches nothing. Returns how many debits were matched."""
    debits = [e for e in entries if not e.is_credit and e.status == EntryStatus.DEBIT]
    if not debits:
        return 0
    named = _by_number(debits)
    by_amount = _by_amount(debits)
    taken: set[int] = set()
    matched = 0
    for entry in debits:
        remittance = None
        for number in NUMBER.findall(entry.label.upper()):
            candidate = named.get(number)
            if candidate is not None and candidate.pk not in taken and to_money(candidate.total) == entry.amount:
                remittance, how = candidate, "reference"
                break
        if remittance is None:
            fitting = [r for r in by_amount.get(entry.amount, []) if r.pk not in taken and _fits(r, entry)]
            if len(fitting) == 1:
                remittance, how = fitting[0], "amount_date"
        if remittance is None:
            continue
        taken.add(remittance.pk)
        _execute(remittance, entry, how=how, actor=actor)
        matched += 1
    return matched


def _execute(remittance: Remittance, entry: BankEntry, *, how: str, actor) -> None:
    entry.status = EntryStatus.REMITTANCE
    entry.review_note = f"Reversement {remittance.number} ({remittance.structure.code})"[:300]
    entry.save(update_fields=["status", "review_note"])
    was_executed = remittance.status == RemittanceStatus.EXECUTED
    remittance.bank_entry = entry
    fields = ["bank_entry"]
    if not was_executed:
        remittance.status = RemittanceStatus.EXECUTED
        remittance.executed_on = entry.booked_on
        fields += ["status", "executed_on"]
    remittance.save(update_fields=fields)
    audit_record(
        actor=actor,
        verb="remittance.debit_matched" if was_executed else "remittance.executed",
        target=remittance,
        after={
            "number": remittance.number,
            "executed_on": remittance.executed_on,
            "bank_entry": entry.pk,
            "matched_by": how,
            "total": remittance.total,
        },
    )


def remittances_match_pending(*, actor=None) -> int:
    """Match the debits already imported that no remittance claimed yet — a statement imported before the
    remittance was marked sent. Run by the daily jobs; a debit is matched once."""
    since = timezone.localdate() - timedelta(days=PENDING_DAYS)
    entries = list(
        BankEntry.objects.filter(status=EntryStatus.DEBIT, is_credit=False, booked_on__gte=since).order_by(
            "booked_on", "pk"
        )
    )
    return remittance_debits_match(entries, actor) if entries else 0


def remittances_outgoing(at: date) -> Outgoing:
    """The remittances prepared on or before `at` whose debit no statement has shown yet (the journal paid
    them out of the account; the bank has not): they explain part of the bank–journal difference."""
    totals = Remittance.objects.filter(
        Q(bank_entry__isnull=True) | Q(bank_entry__booked_on__gt=at), created_at__date__lte=at
    ).aggregate(count=Count("pk"), total=Sum("total"))
    return Outgoing(count=totals["count"], total=to_money(totals["total"] or ZERO))
