from django.apps import AppConfig
from django.core.checks import Tags, register


class CreditorsConfig(AppConfig):
    name = "amiable.creditors"
    verbose_name = "Créanciers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.creditors import checks, timeline

        timeline.register()
        # Tagged `database`: they read only the databases that `check --database …` and `migrate` give (checks.py).
        register(checks.contract_terms_check, Tags.database)
        register(checks.agency_check, Tags.database)
