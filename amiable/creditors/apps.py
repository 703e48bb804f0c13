from django.apps import AppConfig


class CreditorsConfig(AppConfig):
    name = "amiable.creditors"
    verbose_name = "Créanciers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.creditors import timeline

        timeline.register()
