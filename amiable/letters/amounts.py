"""What a letter asks: the remaining balance, split into principal, interest and other sums as CPCE R124-4 3°
wants them distinct. How the payments were allocated to those components is known to the payments app,
above this one: it registers its reader here from its `AppConfig.ready()`."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from amiable.cases.models import Case
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_money

# The components of a claim as the payments' allocation names them, with the letters' labels.
COMPONENTS = (("principal", "Principal"), ("interest", "Intérêts"), ("other", "Autres accessoires"))

_paid_reader: Callable[[Case], dict[str, Decimal]] | None = None


def register_paid_reader(reader: Callable[[Case], dict[str, Decimal]]) -> None:
    """`reader(case)` returns what was paid of each component (net of reversals and refunds)."""
    global _paid_reader
    _paid_reader = reader


@dataclass(frozen=True)
class ComponentDue:
    label: str
    claimed: Decimal
    paid: Decimal
    due: Decimal


@dataclass(frozen=True)
class AmountsDue:
    components: list[ComponentDue]
    claimed: Decimal
    paid: Decimal  # what was recovered of the claim (an excess owed back to the debtor is not in it)
    due: Decimal  # the remaining balance: what the letter asks


def amounts_due(case: Case) -> AmountsDue:
    """Claimed, paid and remaining of each component and in total. A case nothing was paid on costs no
    query; a split that does not add up to the case's balance is refused rather than printed."""
    claimed = {
        "principal": case.principal_amount,
        "interest": case.interest_amount or ZERO,
        "other": case.other_amount or ZERO,
    }
    paid: dict[str, Decimal] = {}
    if case.paid_amount:
        if _paid_reader is None:
            raise ApplicationError("Répartition des paiements indisponible : courrier impossible pour l'instant.")
        paid = _paid_reader(case)
    lines = []
    for key, label in COMPONENTS:
        share = min(max(paid.get(key) or ZERO, ZERO), claimed[key])
        lines.append(ComponentDue(label=label, claimed=claimed[key], paid=share, due=claimed[key] - share))
    due = sum((line.due for line in lines), ZERO)
    if due != case.balance:
        raise ApplicationError(
            f"Dossier {case.reference} : la répartition des paiements ({format_money(due)} restant dus) ne "
            f"correspond pas au reste dû ({format_money(case.balance)}) : courrier refusé, à vérifier."
        )
    return AmountsDue(
        components=lines,
        claimed=sum((line.claimed for line in lines), ZERO),
        paid=sum((line.paid for line in lines), ZERO),
        due=due,
    )
