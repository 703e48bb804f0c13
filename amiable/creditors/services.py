"""Writes on the agency identity, creditors, structures and contract terms; every change is audited."""

from django.db import models, transaction

from amiable.accounts.sessions import sessions_end
from amiable.audit.services import audit_record
from amiable.creditors.models import Agency, ContractTerms, Creditor, Structure


def _apply(instance: models.Model, values: dict) -> tuple[dict, dict]:
    """Set the fields that differ and return (before, after) of those fields only."""
    before, after = {}, {}
    for name, value in values.items():
        field = instance._meta.get_field(name)
        current = getattr(instance, field.attname if field.is_relation else name)
        new = value.pk if field.is_relation and isinstance(value, models.Model) else value
        if current != new:
            before[name] = current
            after[name] = new
            setattr(instance, field.attname if field.is_relation else name, new)
    return before, after


def _upsert(model, lookup: dict, values: dict, *, actor, verb_prefix: str, creditor_pk=None):
    instance = model.objects.filter(**lookup).first()
    if instance is None:
        instance = model(**lookup, **values)
        instance.full_clean()
        instance.save()
        after = {k: (v.pk if isinstance(v, models.Model) else v) for k, v in {**lookup, **values}.items()}
        audit_record(actor=actor, verb=f"{verb_prefix}.created", target=instance, creditor_pk=creditor_pk, after=after)
        return instance, True
    before, after = _apply(instance, values)
    if after:
        instance.full_clean()
        instance.save()
        audit_record(
            actor=actor,
            verb=f"{verb_prefix}.updated",
            target=instance,
            creditor_pk=creditor_pk,
            before=before,
            after=after,
        )
    return instance, False


@transaction.atomic
def agency_save(*, actor, **values) -> Agency:
    """Create or update the agency's identity (a single row)."""
    instance, _ = _upsert(Agency, {"pk": 1}, values, actor=actor, verb_prefix="agency")
    return instance


@transaction.atomic
def creditor_save(*, slug: str, actor, **values) -> Creditor:
    """Create or update a creditor by its slug. Deactivating it ends every session of its staff at once."""
    creditor = Creditor.objects.filter(slug=slug).first()
    instance, _ = _upsert(
        Creditor,
        {"slug": slug},
        values,
        actor=actor,
        verb_prefix="creditor",
        creditor_pk=creditor.pk if creditor else None,
    )
    if creditor is not None and creditor.is_active and not instance.is_active:
        creditor_staff_sessions_end(creditor=instance)
    return instance


def creditor_staff_sessions_end(*, creditor: Creditor) -> int:
    """Log out every person of a deactivated creditor now (the login backend refuses them from then on)."""
    return sessions_end(user_ids=creditor.users.values_list("pk", flat=True))


@transaction.atomic
def structure_save(*, creditor: Creditor, code: str, actor, **values) -> Structure:
    """Create or update a structure of a creditor by its code."""
    instance, _ = _upsert(
        Structure,
        {"creditor": creditor, "code": code},
        values,
        actor=actor,
        verb_prefix="structure",
        creditor_pk=creditor.pk,
    )
    return instance


@transaction.atomic
def terms_save(*, creditor: Creditor, actor, **values) -> ContractTerms:
    """Create or update the contract terms of a creditor."""
    instance, _ = _upsert(
        ContractTerms, {"creditor": creditor}, values, actor=actor, verb_prefix="terms", creditor_pk=creditor.pk
    )
    return instance
