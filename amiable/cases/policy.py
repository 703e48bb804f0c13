"""The one rule that says whether a case's debtor may be contacted, by which channel, and when (L8, L10).

No harassment (Code pénal 222-16, C. consom. L121-7): calls and messages only on the creditor's allowed
days and hours, never on a French public holiday, at most N attempts per channel over 30 days, never
after a do-not-contact request, and no action at all on a case that is not being recovered (plan,
suspension, over-indebtedness, death, recall, closure) or on which nothing remains due.

A case on a payment plan is not chased: the only contact its debtor may receive is the reminder of a missed
instalment of the plan, asked with `plan_follow_up=True`; every other part of the rule (stopping events,
do-not-contact, days, hours, caps) still applies to it. (The plan's document itself is owed to the debtor, as a
receipt is: it is not a contact.)

Letters, the print batch, e-mails, SMS, calls, scenarios and the pages all ask `case_contact_block()`,
and nothing else: the rule is written once."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from amiable.cases.models import STOPPING_EVENTS, Action, Case, CaseEvent, CaseStatus, Channel
from amiable.cases.selectors import case_stopping_event
from amiable.core.dates import is_public_holiday
from amiable.core.money import ZERO, format_money
from amiable.creditors.models import ContractTerms
from amiable.creditors.selectors import terms_for

# Letters are posted, not received at a given hour: only the monthly cap applies to them.
TIMED_CHANNELS = frozenset({Channel.CALL, Channel.SMS, Channel.EMAIL})
WINDOW_DAYS = 30
WINDOW = timedelta(days=WINDOW_DAYS)
# Every `ContactBlock.key`: stable, counted by `run_scenarios --json` under « skipped ».
BLOCK_KEYS = frozenset(
    {
        "case_not_active",
        "nothing_due",
        "stopping_event",
        "do_not_contact",
        "day_not_allowed",
        "public_holiday",
        "outside_hours",
        "cap_reached",
    }
)
DAY_NAMES = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
MONTH_NAMES = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


@dataclass(frozen=True)
class ContactBlock:
    """Why a contact is refused: a stable English `key` (for counters), the French `reason`, and, when the
    refusal only lasts a while, the first instant a contact will be allowed again (`next_at`)."""

    key: str
    reason: str
    next_at: datetime | None = None

    @property
    def next_slot(self) -> str:
        """« Prochain créneau autorisé : lundi 1 décembre à 8 h 00 », or "" when waiting will not lift it."""
        return f"Prochain créneau autorisé : {format_slot(self.next_at)}" if self.next_at else ""

    @property
    def message(self) -> str:
        if self.next_at is None:
            return self.reason
        return f"{self.reason}. {self.next_slot}"

    def __str__(self) -> str:
        return self.message


def format_slot(at: datetime) -> str:
    """« lundi 1 décembre à 8 h 00 » in Paris time (« 1er » is not used: the day reads as a number)."""
    at = timezone.localtime(at)
    return f"{DAY_NAMES[at.weekday()]} {at.day} {MONTH_NAMES[at.month - 1]} à {at.hour} h {at.minute:02d}"


def _windows(spec: str) -> list[tuple[time, time]]:
    windows = []
    for part in spec.split(","):
        start, _, end = part.strip().partition("-")
        if start and end:
            windows.append((time.fromisoformat(start), time.fromisoformat(end)))
    return sorted(windows)


def hours_rule_off() -> bool:
    """The development switch `AMIABLE_CONTACT_POLICY_OFF=1` (dev settings only; production refuses to start
    with it): the demo may send at any hour or day. Everything else of the rule still holds."""
    return bool(getattr(settings, "AMIABLE_CONTACT_POLICY_OFF", False))


def channel_cap(terms: ContractTerms, channel: str) -> int:
    """The contract's maximum number of attempts by `channel` over 30 days."""
    return {
        Channel.CALL: terms.max_calls_per_30_days,
        Channel.EMAIL: terms.max_emails_per_30_days,
        Channel.SMS: terms.max_sms_per_30_days,
        Channel.LETTER: terms.max_letters_per_30_days,
    }[channel]


def _day_allowed(terms: ContractTerms, day) -> bool:
    if str(day.isoweekday()) not in terms.contact_weekdays:
        return False
    return terms.contact_on_public_holidays or not is_public_holiday(day)


def next_allowed(terms: ContractTerms, channel: str, after: datetime) -> datetime | None:
    """The first instant at or after `after` when the creditor's days and hours allow `channel`."""
    after = timezone.localtime(after)
    if channel not in TIMED_CHANNELS:
        return after
    windows = _windows(terms.contact_hours)
    if not windows:
        return None
    for offset in range(0, 15):  # two weeks always hold an allowed day unless no weekday is allowed
        day = after.date() + timedelta(days=offset)
        if not _day_allowed(terms, day):
            continue
        for start, end in windows:
            opening = timezone.make_aware(datetime.combine(day, start))
            closing = timezone.make_aware(datetime.combine(day, end))
            if closing <= after:
                continue
            return max(opening, after)
    return None


def case_contact_block(
    case, channel: str, when: datetime | None = None, *, plan_follow_up: bool = False
) -> ContactBlock | None:
    """Why the debtor of `case` may not be contacted by `channel` at `when` (default: now), or None when
    the contact is allowed. Reads the case's status, its stopping events, the debtor's do-not-contact
    flag, the creditor's contract terms and the attempts of the last 30 days. `plan_follow_up`: the
    message is about the case's payment plan, which a case on a plan may receive."""
    at = timezone.localtime(when or timezone.now())
    return _decide(
        case,
        channel,
        at,
        plan_follow_up=plan_follow_up,
        stopped=lambda: case_stopping_event(case=case),
        # The case's creditor when already read (the case page's): its terms may be already read too.
        terms=lambda: terms_for(case.creditor if Case.creditor.is_cached(case) else case.creditor_id),
        attempts=lambda: list(
            _attempts(channel).filter(case=case, at__gt=at - WINDOW, at__lte=at).values_list("at", flat=True)
        ),
    )


def case_contact_blocks(items: list[tuple], channel: str) -> list[ContactBlock | None]:
    """The same rule for many (case, instant) pairs at once — the print batch's letters — in four queries
    whatever their number, instead of three per case."""
    if not items:
        return []
    items = [(case, timezone.localtime(at)) for case, at in items]
    case_ids = {case.pk for case, _at in items}
    stopped: dict[int, CaseEvent] = {}
    for event in CaseEvent.objects.filter(case_id__in=case_ids, kind__in=STOPPING_EVENTS).order_by(
        "case_id", "-occurred_on", "-pk"
    ):
        stopped.setdefault(event.case_id, event)
    terms = {t.creditor_id: t for t in ContractTerms.objects.filter(creditor_id__in={c.creditor_id for c, _ in items})}
    earliest, latest = min(at for _c, at in items) - WINDOW, max(at for _c, at in items)
    done: dict[int, list[datetime]] = {}
    for case_id, at in (
        _attempts(channel).filter(case_id__in=case_ids, at__gt=earliest, at__lte=latest).values_list("case_id", "at")
    ):
        done.setdefault(case_id, []).append(at)
    return [
        _decide(
            case,
            channel,
            at,
            stopped=lambda case=case: stopped.get(case.pk),
            terms=lambda case=case: terms.get(case.creditor_id) or terms_for(case.creditor_id),
            attempts=lambda case=case, at=at: [t for t in done.get(case.pk, []) if at - WINDOW < t <= at],
        )
        for case, at in items
    ]


def _attempts(channel: str):
    """The contacts by `channel` that count against its cap, oldest first: the agency's attempts only — a
    debtor who phones in does not use up the agency's calls."""
    return Action.objects.filter(channel=channel).exclude(call__direction="in").order_by("at")


def _decide(
    case, channel: str, at: datetime, *, stopped, terms, attempts, plan_follow_up: bool = False
) -> ContactBlock | None:
    """The rule itself, over what it reads (given as callables, so that nothing is read that the rule does
    not need): one decision for `case_contact_block` and `case_contact_blocks`."""
    contactable = case.status in CaseStatus.CONTACTABLE or (plan_follow_up and case.status == CaseStatus.PAYMENT_PLAN)
    if not contactable:
        return ContactBlock("case_not_active", f"dossier {case.get_status_display().lower()} : aucune action")
    if case.balance <= 0:
        # Paid in full normally makes the case « Soldé » (above); this holds whatever the status says.
        return ContactBlock(
            "nothing_due", f"rien ne reste dû sur ce dossier (reste dû : {format_money(ZERO)}) : aucune relance"
        )
    event = stopped()
    if event is not None:
        return ContactBlock(
            "stopping_event", f"événement bloquant ({event.get_kind_display().lower()}) : aucune action"
        )
    if case.debtor.do_not_contact:
        return ContactBlock("do_not_contact", "le débiteur a demandé à ne plus être contacté")
    terms = terms()
    if channel in TIMED_CHANNELS and not hours_rule_off():
        if str(at.isoweekday()) not in terms.contact_weekdays:
            key, reason = "day_not_allowed", "jour non autorisé par la politique de contact"
        elif is_public_holiday(at.date()) and not terms.contact_on_public_holidays:
            key, reason = "public_holiday", "jour férié"
        elif not any(start <= at.time() < end for start, end in _windows(terms.contact_hours)):
            key, reason = "outside_hours", f"hors des plages horaires autorisées ({terms.contact_hours})"
        else:
            key = None
        if key is not None:
            return ContactBlock(key, reason, next_allowed(terms, channel, at))
    cap = channel_cap(terms, channel)
    done = attempts()
    if len(done) >= cap:
        # The cap frees up when the oldest attempt that counts leaves the 30 days.
        freed = done[len(done) - cap] + WINDOW
        return ContactBlock(
            "cap_reached",
            f"plafond atteint : {len(done)} {Channel(channel).label.lower()}(s) sur 30 jours (maximum {cap})",
            next_allowed(terms, channel, freed),
        )
    return None
