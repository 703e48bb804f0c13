"""Background tasks of the contacts (run by `manage.py db_worker`)."""

from django_tasks import task

from amiable.contact.messaging import message_deliver


@task()
def outbox_deliver(message_id: int) -> str:
    """Deliver one message of the outbox, enqueued once the transaction that decided it has committed."""
    return message_deliver(message_id=message_id)


@task()
def outbox_deliver_many(message_ids: list[int]) -> dict:
    """Deliver the messages a daily run decided together (`reminders_queue`), one after the other; each is
    claimed under its own lock, so that `deliver_outbox` taking one over meanwhile never sends it twice."""
    outcomes: dict[str, int] = {}
    for message_id in message_ids:
        outcome = message_deliver(message_id=message_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
