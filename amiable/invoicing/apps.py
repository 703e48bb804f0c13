from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "amiable.invoicing"
    verbose_name = "Facturation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.invoicing import timeline

        timeline.register()
