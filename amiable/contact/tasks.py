"""Background tasks of the contacts (run by `manage.py db_worker`)."""

from django_tasks import task

from amiable.contact.messaging import message_deliver


@task()
def outbox_deliver(message_id: int) -> str:
    """Deliver one message of the outbox, enqueued once the transaction that decided it has committed."""
    return message_deliver(message_id=message_id)
