"""The contact policy (L8): when and how often a debtor may be contacted, and when never.

No harassment (Code pénal 222-16, C. consom. L121-7): calls and messages only on the creditor's allowed
days and hours, never on a French public holiday, at most N attempts per channel over 30 days, never
after a do-not-contact request, and no action at all on a case that is not being recovered (plan,
suspension, over-indebtedness, recall, closure)."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from amiable.actions.models import STOPPING_EVENTS, Action, CaseEvent, Channel
from amiable.cases.models import CaseStatus
from amiable.core.dates import is_public_holiday
from amiable.creditors.models import ContractTerms

ACTIVE_STATUSES = {CaseStatus.NEW, CaseStatus.IN_PROGRESS}
# Letters are posted, not received at a given hour: only the monthly cap applies to them.
TIMED_CHANNELS = {Channel.CALL, Channel.SMS, Channel.EMAIL}


def _windows(spec: str) -> list[tuple[time, time]]:
    windows = []
    for part in spec.split(","):
        start, _, end = part.strip().partition("-")
        if start and end:
            windows.append((time.fromisoformat(start), time.fromisoformat(end)))
    return windows


def _cap(terms: ContractTerms, channel: str) -> int:
    return {
        Channel.CALL: terms.max_calls_per_30_days,
        Channel.EMAIL: terms.max_emails_per_30_days,
        Channel.SMS: terms.max_sms_per_30_days,
        Channel.LETTER: terms.max_letters_per_30_days,
    }[channel]


def contact_refusal(*, case, channel: str, at: datetime | None = None) -> str | None:
    """Why the debtor of `case` may not be contacted by `channel` at `at` (French), or None if allowed.
    The reason's first words are stable keys for counting skips: see `refusal_key`."""
    at = timezone.localtime(at or timezone.now())
    if case.status not in ACTIVE_STATUSES:
        return f"dossier {case.get_status_display().lower()} : aucune action"
    stopped = CaseEvent.objects.filter(case=case, kind__in=STOPPING_EVENTS).order_by("-occurred_on").first()
    if stopped is not None:
        return f"événement bloquant ({stopped.get_kind_display().lower()}) : aucune action"
    if case.debtor.do_not_contact:
        return "le débiteur a demandé à ne plus être contacté"
    terms = ContractTerms.objects.filter(creditor_id=case.creditor_id).first()
    if terms is None:
        return None
    if channel in TIMED_CHANNELS:
        if str(at.isoweekday()) not in terms.contact_weekdays:
            return "jour non autorisé par la politique de contact"
        if is_public_holiday(at.date()) and not terms.contact_on_public_holidays:
            return "jour férié"
        if not any(start <= at.time() < end for start, end in _windows(terms.contact_hours)):
            return f"hors des plages horaires autorisées ({terms.contact_hours})"
    cap = _cap(terms, channel)
    since = at - timedelta(days=30)
    # Attempts made by the agency; a debtor who phones in does not use up the agency's calls.
    done = (
        Action.objects.filter(case=case, channel=channel, at__gt=since, at__lte=at)
        .exclude(call__direction="in")
        .count()
    )
    if done >= cap:
        return f"plafond atteint : {done} {Channel(channel).label.lower()}(s) sur 30 jours (maximum {cap})"
    return None


REFUSAL_KEYS = {
    "dossier": "case_not_active",
    "jour férié": "public_holiday",
    "jour non autorisé": "day_not_allowed",
    "hors des plages": "outside_hours",
    "plafond": "cap_reached",
    "le débiteur a demandé": "do_not_contact",
    "événement bloquant": "stopping_event",
}


def refusal_key(reason: str) -> str:
    """A stable English key for a refusal, for counters (run_scenarios --json)."""
    for start, key in REFUSAL_KEYS.items():
        if reason.startswith(start):
            return key
    return "stopping_event"
