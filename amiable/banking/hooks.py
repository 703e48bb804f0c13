"""What the apps above fill in for the bank statements: the remittances match the debits of the client-funds
account (L13) and say what the journal paid out that the bank has not booked yet. `banking` sits below
`remittances` and cannot import it; `RemittancesConfig.ready()` registers both here instead."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

from amiable.core.money import ZERO


@dataclass(frozen=True)
class Outgoing:
    """Money the journal paid out of the account (remittances) that no imported debit shows yet."""

    count: int = 0
    total: Decimal = ZERO


# Called inside the import's transaction with the new debit entries; returns how many it matched.
DebitMatcher = Callable[[list, object], int]
OutgoingReader = Callable[[date], Outgoing]

_debit_matcher: DebitMatcher | None = None
_outgoing_reader: OutgoingReader | None = None


def register_remittance_hooks(*, matcher: DebitMatcher, outgoing: OutgoingReader) -> None:
    """Declare who matches debits and who reads the outgoing money; a second, different one is refused."""
    global _debit_matcher, _outgoing_reader
    if _debit_matcher is not None and _debit_matcher is not matcher:
        raise ImproperlyConfigured(f"A debit matcher is already registered: {_debit_matcher!r}.")
    _debit_matcher, _outgoing_reader = matcher, outgoing


def debits_match(entries: list, actor) -> int:
    """Match the new debits of an import to what they pay out; none matched when nobody registered."""
    if _debit_matcher is None or not entries:
        return 0
    return _debit_matcher(entries, actor)


def outgoing_not_booked(at: date) -> Outgoing:
    """What the journal paid out on or before `at` that the bank has not booked yet, by the registered reader."""
    return _outgoing_reader(at) if _outgoing_reader is not None else Outgoing()
