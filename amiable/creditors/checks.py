"""System checks of the reference data the software cannot work without.

Every active creditor must have its contract terms: `selectors.terms_for` has no default to fall back
on, so a creditor without terms would have its letters, requests and batches refused one by one. The
agency's row is printed on every document; without it nothing can be issued either.

Both checks read the database, so they are tagged `database` and look only at the databases Django
hands them: `manage.py check --database default`, and `manage.py migrate`, which checks the database
it migrates; `runserver` and a plain `check` give none, and the checks then do nothing. On a database
whose tables do not exist yet (the first `migrate` of a fresh install) they find nothing to check and
stay silent. A missing agency is only a warning: a fresh install migrates before `seed_reference`
creates it, and a warning never stops a command. A creditor without terms is an error, and stops
`migrate` too until an administrator gives it its terms (or deactivates it); `migrate --skip-checks`
gets past it in an emergency."""

from django.core.checks import Error, Warning
from django.db import DatabaseError

from amiable.creditors.models import Agency, Creditor

TERMS_MISSING = "amiable.E001"
AGENCY_MISSING = "amiable.W001"


def _concerned(app_configs) -> bool:
    return app_configs is None or any(config.name == "amiable.creditors" for config in app_configs)


def contract_terms_check(app_configs=None, databases=None, **kwargs) -> list[Error]:
    """An error naming each active creditor that has no contract terms."""
    if not databases or not _concerned(app_configs):
        return []
    errors = []
    for alias in databases:
        try:
            # Only the columns needed: a later migration may add columns the table does not have yet.
            missing = list(
                Creditor.objects.using(alias)
                .filter(is_active=True, terms__isnull=True)
                .order_by("name", "pk")
                .values_list("pk", "name")
            )
        except DatabaseError:  # tables not created yet: nothing to check
            continue
        errors.extend(
            Error(
                f"Le créancier actif « {name} » (n° {pk}) n'a pas de conditions contractuelles.",
                hint="Renseignez-les dans l'administration (Conditions des contrats), ou désactivez le créancier.",
                obj=f"creditors.Creditor n° {pk}",
                id=TERMS_MISSING,
            )
            for pk, name in missing
        )
    return errors


def agency_check(app_configs=None, databases=None, **kwargs) -> list[Warning]:
    """A warning when the agency's identity is missing (a fresh install before `seed_reference`)."""
    if not databases or not _concerned(app_configs):
        return []
    warnings = []
    for alias in databases:
        try:
            exists = Agency.objects.using(alias).filter(pk=1).values("pk").exists()
        except DatabaseError:  # tables not created yet: nothing to check
            continue
        if not exists:
            warnings.append(
                Warning(
                    "L'identité de l'agence n'est pas renseignée : aucun document ne peut être émis.",
                    hint="Lancez `manage.py seed_reference`, ou renseignez-la dans l'administration (Agence).",
                    id=AGENCY_MISSING,
                )
            )
    return warnings
