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
    how = {
        "reference": "débit du relevé bancaire rapproché par sa référence",
        "amount_date": "débit du relevé bancaire rapproché par son montant et sa date",
        "hand": "constaté à la main",
    }.get(after.get("matched_by", ""), "")
    total = format_money(to_money(str(after.get("total") or "0")))
    return f"{after.get('number', '')} : virement de {total} exécuté le {iso_date_fr(after.get('executed_on'))}" + (
        f" ({how})" if how else ""
    )


def _documents(event: AuditEvent) -> str:
    after = event.after or {}
    files = list((after.get("files") or {}).keys())
    text = f"{after.get('number', '')} : {', '.join(files)}"
    if "pain.001" in files:
        text += " (virement émis)"
    if after.get("transfer_problem"):
        text += f" ; virement non émis : {after['transfer_problem']}"
    return text


def _emailed(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{after.get('number', '')} envoyé à {after.get('to', '')}"


def _debit_matched(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{after.get('number', '')} : débit du relevé bancaire rattaché au virement déjà constaté exécuté"


def register() -> None:
    register_verb("remittance.prepared", label="Reversement préparé", describe=_remittance)
    register_verb("remittance.executed", label="Virement de reversement exécuté", describe=_executed)
    register_verb("remittance.documents_made", label="Fichiers du reversement produits", describe=_documents)
    register_verb("remittance.emailed", label="Relevé de reversement envoyé", describe=_emailed)
    register_verb("remittance.debit_matched", label="Débit bancaire rattaché au reversement", describe=_debit_matched)
