"""What the apps above fill in so that a creditor's request can be answered without the agency: today the
financial statement (C34), which `payments` draws up. `creditor_requests` sits below `payments` and cannot
import it; `PaymentsConfig.ready()` registers the provider here instead."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from amiable.creditor_requests.models import CreditorRequest


@dataclass(frozen=True)
class AutomaticAnswer:
    """The answer a provider gives to a request: its text, and where the document it joins is read."""

    text: str
    url: str = ""


# Called inside the request's transaction with the request just created and the person who asked.
StatementProvider = Callable[["CreditorRequest", object], AutomaticAnswer]

_statement_provider: StatementProvider | None = None


def register_statement_provider(provider: StatementProvider) -> None:
    """Declare who answers statement requests. Registering another one is refused: two apps would answer."""
    global _statement_provider
    if _statement_provider is not None and _statement_provider is not provider:
        raise ImproperlyConfigured(f"A statement provider is already registered: {_statement_provider!r}.")
    _statement_provider = provider


def statement_provider() -> StatementProvider | None:
    """The registered provider, or None: the request then waits for the agency's answer, by hand."""
    return _statement_provider
