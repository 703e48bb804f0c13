"""Writing to the audit trail; every service that changes data calls `audit_record` in its transaction."""

from contextlib import nullcontext
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from amiable.audit.chain import COLUMNS, Appender, content
from amiable.audit.models import AuditEvent
from amiable.audit.personal import protect, scope_of
from amiable.core.bulk import insert_rows

SYSTEM_LABEL = "Système"
# The columns of an audit row written in bulk (`core.bulk.insert_rows`), in the order of the tuples given: the
# columns the chain's hash covers, in the same order (the actor by its field name).
AUDIT_FIELDS = ["actor" if column == "actor_id" else column for column in COLUMNS]


def _target_identity(target: Any) -> tuple[str, str, str]:
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk), str(target)[:255]
    if isinstance(target, tuple):  # (type, id, label) for things that are not rows
        kind, ident, label = target
        return kind, str(ident), label[:255]
    raise TypeError(f"Cible d'audit inconnue : {target!r}")


def audit_record(
    *,
    actor,
    verb: str,
    target: Any,
    before: dict | None = None,
    after: dict | None = None,
    case_pk: int | None = None,
    creditor_pk: int | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one event. `actor` is a user or None for the system; `case_pk`/`creditor_pk` are taken
    from the target when it has them, so that timelines and creditor trails find the event."""
    # Outside a transaction the event could be written without the change, or the reverse.
    with transaction.atomic() if not transaction.get_connection().in_atomic_block else nullcontext():
        event = audit_event(
            actor=actor,
            verb=verb,
            target=target,
            before=before,
            after=after,
            case_pk=case_pk,
            creditor_pk=creditor_pk,
            ip_address=ip_address,
        )
        event.save(force_insert=True)
    return event


def audit_event(**fields) -> AuditEvent:
    """The event `audit_record` would write, not saved yet (arguments: those of `_event_values`): a bulk service
    builds many and writes them with `audit_events_write`, in the transaction of the changes they record; `keys`
    (a dict the service keeps) spares a read of the creditor's data key per event."""
    return AuditEvent(**_event_values(**fields))


def _event_values(
    *,
    actor,
    verb: str,
    target: Any,
    before: dict | None = None,
    after: dict | None = None,
    case_pk: int | None = None,
    creditor_pk: int | None = None,
    ip_address: str | None = None,
    keys: dict | None = None,
) -> dict:
    """The fields of the event `audit_event` builds, by AUDIT_FIELDS' names: `audit_record_many` writes them as
    they are, without a model instance per event."""
    target_type, target_id, target_label = _target_identity(target)
    if case_pk is None:
        case_pk = getattr(target, "case_id", None)
        if case_pk is None and target_type == "cases.case":
            case_pk = target.pk
    if creditor_pk is None:
        creditor_pk = getattr(target, "creditor_id", None)
        if creditor_pk is None and target_type == "creditors.creditor":
            creditor_pk = target.pk
    scope = scope_of(target=target, target_type=target_type, case_pk=case_pk, creditor_pk=creditor_pk)
    target_label, before, after = protect(
        scope=scope, target_type=target_type, target_label=target_label, before=before, after=after, keys=keys
    )
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return dict(
        at=timezone.now(),
        actor=actor if is_user else None,
        actor_label=(actor.email if is_user else SYSTEM_LABEL),
        verb=verb,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        case_pk=case_pk,
        creditor_pk=creditor_pk,
        before=before,
        after=after,
        ip_address=ip_address,
    )


def audit_events_write(events: list[AuditEvent]) -> None:
    """Write events built by `audit_event` in one insert; inside the transaction of the changes."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_events_write doit être appelé dans une transaction.")
    AuditEvent.objects.bulk_create(events, batch_size=500)


def audit_rows_write(rows: list[tuple]) -> None:
    """Insert events given as tuples in the order of AUDIT_FIELDS (the actor by its id) in one bulk insert (COPY
    on PostgreSQL), chained in one pass; inside the transaction of the changes they record. The one way to write
    the trail in bulk without a model instance per event."""
    if not rows:
        return
    with transaction.atomic(savepoint=False):
        chain = Appender()
        insert_rows(AuditEvent, [*AUDIT_FIELDS, "hash"], [(*row, chain.link(content(row))) for row in rows])
        chain.done()


def audit_record_many(*, actor, events: list[dict]) -> int:
    """Append many events at once, each given as the keyword arguments of `audit_record` but `actor` (verb,
    target, before, after, case_pk, creditor_pk): built by `audit_event` exactly as `audit_record` builds them,
    personal values sealed with one key read per creditor or debtor, and written in one bulk insert (COPY on
    PostgreSQL). For the daily runs that write thousands of events (`run_scenarios`); inside the caller's
    transaction. Returns how many."""
    if not events:
        return 0
    if not transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return audit_record_many(actor=actor, events=events)
    keys: dict = {}
    rows = []
    for event in events:
        values = _event_values(actor=actor, keys=keys, **event)
        values["actor"] = values["actor"].pk if values["actor"] is not None else None  # the actor by its id
        rows.append(tuple(values[name] for name in AUDIT_FIELDS))
    audit_rows_write(rows)
    return len(rows)


def snapshot(instance: models.Model, fields: list[str]) -> dict:
    """The values of some fields, for the before/after of an event (foreign keys by id)."""
    data = {}
    for name in fields:
        field = instance._meta.get_field(name)
        data[name] = getattr(instance, field.attname)
    return data


def access_log_record(
    *,
    user,
    kind: str,
    label: str,
    case_pk: int | None = None,
    creditor_pk: int | None = None,
    ip_address: str | None = None,
) -> None:
    """Log a read of debtors' data (a case page, a document, an export, a list) by anyone, agency or creditor
    staff: the agency processes health data for its creditors and must show who saw what (L11, S3).
    `creditor_pk` is whose data was read; it defaults to the creditor staff member's own creditor."""
    from amiable.audit.models import AccessLogEntry

    if not getattr(user, "is_authenticated", False):
        return
    AccessLogEntry.objects.create(
        at=timezone.now(),
        user=user,
        user_label=user.email,
        creditor_pk=creditor_pk if creditor_pk is not None else user.creditor_id,
        kind=kind,
        case_pk=case_pk,
        label=label[:255],
        ip_address=ip_address,
    )


@transaction.atomic
def access_log_purge(*, months: int, today=None) -> int:
    """Delete access-log entries older than `months` months; returns how many. The purge itself is audited,
    so that the trail shows when entries left the log under the retention rule and how many."""
    from amiable.audit.models import AccessLogEntry
    from amiable.core.dates import add_months, format_date

    today = today or timezone.localdate()
    limit = add_months(today, -months)
    deleted, _ = AccessLogEntry.objects.filter(at__date__lt=limit).delete()
    if deleted:
        audit_record(
            actor=None,
            verb="access_log.purged",
            target=("audit.accesslogentry", limit.isoformat(), f"Journal des accès avant le {format_date(limit)}"),
            after={"before": limit, "months": months, "deleted": deleted},
        )
    return deleted
