from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "amiable.ledger"
    verbose_name = "Fonds de tiers"
    default_auto_field = "django.db.models.BigAutoField"
