"""Gap-free document numbers (e.g. AR-2026-000042)."""

from django.db import IntegrityError, transaction

from amiable.core.models import NumberSequence


def sequence_next(*, name: str, year: int) -> int:
    """The next number of the sequence for the year; must be called inside the transaction that stores the
    numbered document, which holds the row lock until it commits."""
    return sequence_take(name=name, year=year, count=1)


def sequence_take(*, name: str, year: int, count: int) -> int:
    """The first of the `count` next numbers of the sequence for the year, all taken at once (documents
    numbered in bulk); the same rule as `sequence_next`: inside the transaction that stores them all."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_next doit être appelé dans une transaction.")
    if count < 1:
        raise ValueError("count must be at least 1")
    try:
        with transaction.atomic():
            NumberSequence.objects.get_or_create(name=name, year=year)
    except IntegrityError:  # created at the same moment by another transaction
        pass
    sequence = NumberSequence.objects.select_for_update().get(name=name, year=year)
    first = sequence.last + 1
    sequence.last += count
    sequence.save(update_fields=["last"])
    return first
