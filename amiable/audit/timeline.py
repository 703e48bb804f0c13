"""The timeline registry: each app declares, in its `AppConfig.ready()`, the audit verbs it writes, with
the French label people read, how to describe one event, and whether the event is the agency's own
business (internal: never shown to creditor staff). The case timeline and the claims report read the
registry, so that `cases` shows what letters, calls or approvals did without importing the apps above it."""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from amiable.audit.models import AuditEvent

Describe = Callable[[AuditEvent], str]


@dataclass(frozen=True)
class TimelineVerb:
    verb: str
    label: str
    describe: Describe | None = None
    internal: bool = False


_VERBS: dict[str, TimelineVerb] = {}


def register_verb(verb: str, *, label: str, describe: Describe | None = None, internal: bool = False) -> None:
    """Declare a verb. Declaring it again with another meaning is refused: two apps would be claiming it."""
    entry = TimelineVerb(verb=verb, label=label, describe=describe, internal=internal)
    current = _VERBS.get(verb)
    if current is not None and current != entry:
        raise ImproperlyConfigured(f"Audit verb {verb!r} is already declared as {current!r}.")
    _VERBS[verb] = entry


def verb_get(verb: str) -> TimelineVerb | None:
    return _VERBS.get(verb)


def verbs_registered() -> dict[str, TimelineVerb]:
    return dict(_VERBS)


def verb_label(verb: str) -> str:
    """The French label of a verb; the verb itself for an event written before its verb was declared."""
    entry = _VERBS.get(verb)
    return entry.label if entry else verb


def event_details(event: AuditEvent) -> str:
    """What the timeline says of one event besides its label ("" when its verb says it all)."""
    entry = _VERBS.get(event.verb)
    if entry is None or entry.describe is None:
        return ""
    return entry.describe(event)


def internal_verbs() -> frozenset[str]:
    """Verbs kept out of what creditor staff see: the case timeline and the claims report's last action."""
    return frozenset(verb for verb, entry in _VERBS.items() if entry.internal)


def iso_date_fr(value) -> str:
    """A date stored in an event (ISO text, as the JSON encoder writes it) as the French day/month/year."""
    text = str(value or "")
    return f"{text[8:10]}/{text[5:7]}/{text[0:4]}" if len(text) == 10 else text
