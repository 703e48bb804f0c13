"""Reads of the agency and of the creditors' contract terms: one accessor each, used everywhere."""

from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Agency, ContractTerms, Creditor


def agency_get() -> Agency:
    """The agency's single row, printed on every document; its absence is a set-up fault named in French."""
    agency = Agency.objects.filter(pk=1).first()
    if agency is None:
        raise ApplicationError(
            "L'identité de l'agence n'est pas renseignée (administration › Agence, ou `manage.py seed_reference`)."
        )
    return agency


def terms_for(creditor: Creditor | int) -> ContractTerms:
    """The contract terms of a creditor (by instance or id). Every active creditor has them (see
    `creditors/checks.py`): there is no default to fall back on, so their absence is refused by name. Read once
    per creditor instance: kept on it as `creditor.terms` would be (the case page asks from several cards)."""
    creditor_id = creditor if isinstance(creditor, int) else creditor.pk
    if not isinstance(creditor, int):
        cached = getattr(creditor, "_state", None) and creditor._state.fields_cache.get("terms")
        if cached is not None:
            return cached
    terms = ContractTerms.objects.filter(creditor_id=creditor_id).first()
    if terms is None:
        name = creditor.name if not isinstance(creditor, int) else f"n° {creditor_id}"
        raise ApplicationError(
            f"Le créancier {name} n'a pas de conditions contractuelles : renseignez-les dans l'administration."
        )
    if not isinstance(creditor, int):
        creditor._state.fields_cache["terms"] = terms
    return terms
