"""How a movement of money is spread over the claim's components: a pure waterfall, so that what of the
principal, interest and other sums is paid, and any excess owed back to the debtor, follow from the
movements alone (S5)."""

from decimal import Decimal

from amiable.core.money import ZERO
from amiable.payments.models import Component

COMPONENTS = (Component.PRINCIPAL, Component.INTEREST, Component.OTHER)


def component_order(terms_order: str) -> tuple[str, ...]:
    """The contract's order of allocation (`principal,interest,other` unless the terms say otherwise)."""
    order = tuple(part.strip() for part in (terms_order or "").split(",") if part.strip())
    if sorted(order) != sorted(COMPONENTS):
        return COMPONENTS
    return order


def allocate_in(
    amount: Decimal, *, claimed: dict[str, Decimal], paid: dict[str, Decimal], order: tuple[str, ...]
) -> dict[str, Decimal]:
    """A payment fills each component in order up to what is claimed; the rest is an overpayment."""
    shares: dict[str, Decimal] = {}
    left = amount
    for component in order:
        room = max(claimed[component] - paid.get(component, ZERO), ZERO)
        share = min(room, left)
        if share > 0:
            shares[component] = share
            left -= share
    if left > 0:
        shares[Component.OVERPAYMENT] = left
    return shares


def allocate_out(
    amount: Decimal, *, paid: dict[str, Decimal], order: tuple[str, ...], overpayment_first: bool = True
) -> dict[str, Decimal]:
    """A reversal takes back from the overpayment first, then from the components in reverse order of
    allocation; returns negative shares. Raises ValueError when more is taken back than was paid."""
    shares: dict[str, Decimal] = {}
    left = amount
    sources = ((Component.OVERPAYMENT,) if overpayment_first else ()) + tuple(reversed(order))
    for component in sources:
        share = min(max(paid.get(component, ZERO), ZERO), left)
        if share > 0:
            shares[component] = -share
            left -= share
    if left > 0:
        raise ValueError("more taken back than paid")
    return shares
