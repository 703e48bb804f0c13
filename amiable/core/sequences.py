"""Gap-free document numbers (e.g. AR-2026-000042)."""

from django.db import IntegrityError, transaction

from amiable.core.models import NumberSequence


def sequence_next(*, name: str, year: int) -> int:
    """The next number of the sequence for the year; must be called inside the transaction that stores the
    numbered document, which holds the row lock until it commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_next doit être appelé dans une transaction.")
    try:
        with transaction.atomic():
            NumberSequence.objects.get_or_create(name=name, year=year)
    except IntegrityError:  # created at the same moment by another transaction
        pass
    sequence = NumberSequence.objects.select_for_update().get(name=name, year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return sequence.last
