from django.apps import AppConfig


class BankingConfig(AppConfig):
    name = "amiable.banking"
    verbose_name = "Relevés bancaires"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.banking import timeline

        timeline.register()
