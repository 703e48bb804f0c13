"""What the payments give the daily print run (`letters.printables`): their documents not e-mailed."""

from django.db.models import QuerySet

from amiable.letters.printables import PrintItem


def print_items(documents: QuerySet, *, lock: bool) -> list[PrintItem]:
    """The print run's items of documents (receipts, plans) that carry their case, address block, PDF and hash;
    locked when the run is for real, so that each is printed once."""
    if lock:
        documents = documents.select_for_update(of=("self",))
    return [
        PrintItem(
            pk=document.pk,
            number=document.number,
            case_reference=document.case.reference,
            debtor_name=document.case.debtor.display_name,
            address_lines=list(document.address_lines),
            pdf=document.pdf,
            sha256=document.sha256,
        )
        for document in documents
    ]
