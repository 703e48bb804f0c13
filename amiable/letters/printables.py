"""Documents of higher apps that the daily print run posts with the letters (a payment's receipt not sent by
e-mail, for instance). `letters` may not import those apps: each registers, from its `AppConfig.ready()`, how
to find its documents waiting for the post and how to mark them printed; the print run merges them into the
same PDF and manifest, and marks them in the same transaction as the letters."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from django.db.models.fields.files import FieldFile


@dataclass(frozen=True)
class PrintItem:
    """One stored document to post: what the manifest lists, the file with the hash it was stored with, and
    why it must not go (`withheld`, French), if so."""

    pk: int
    number: str
    case_reference: str
    debtor_name: str
    address_lines: list[str]
    pdf: FieldFile
    sha256: str
    withheld: str | None = None


@dataclass(frozen=True)
class Printable:
    """A kind of document the print run posts. `pending(day=…, lock=…)` lists, in a total order, the documents
    to post in the run of `day` (locking their rows when `lock`); `mark(pks=…, day=…)` marks them printed."""

    key: str
    label: str
    pending: Callable[..., Sequence[PrintItem]]
    mark: Callable[..., None]


_PRINTABLES: dict[str, Printable] = {}


def register_printable(*, key: str, label: str, pending: Callable, mark: Callable) -> None:
    """Declare a kind of document for the print run; registering the same key again replaces it."""
    _PRINTABLES[key] = Printable(key=key, label=label, pending=pending, mark=mark)


def printables() -> list[Printable]:
    """The registered kinds, in their key order (a stable order for the merged PDF)."""
    return [_PRINTABLES[key] for key in sorted(_PRINTABLES)]


def printables_pending_numbers(*, day: date) -> list[str]:
    """The numbers of the registered documents waiting for the run of `day` (its dry run), nothing locked."""
    return [
        item.number
        for printable in printables()
        for item in printable.pending(day=day, lock=False)
        if not item.withheld
    ]
