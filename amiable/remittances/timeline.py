"""The audit verbs of the remittances; registered by `RemittancesConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.core.money import format_money, to_money


def _remittance(event: AuditEvent) -> str:
    after = event.after or {}
    return (
        f"{after.get('number', '')} : {format_money(to_money(str(after.get('total') or '0')))} "
        f"pour la semaine du {iso_date_fr(after.get('period_start'))} au {iso_date_fr(after.get('period_end'))}"
    )


def _executed(event: AuditEvent) -> str:
    after = event.after or {}
    return (
        f"{after.get('number', '')} : virement de {format_money(to_money(str(after.get('total') or '0')))} "
        f"exécuté le {iso_date_fr(after.get('executed_on'))}"
    )


def register() -> None:
    register_verb("remittance.prepared", label="Reversement préparé", describe=_remittance)
    register_verb("remittance.executed", label="Virement du reversement exécuté", describe=_executed)
