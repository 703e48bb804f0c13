from django.apps import AppConfig


class RemittancesConfig(AppConfig):
    name = "amiable.remittances"
    verbose_name = "Reversements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.remittances import timeline

        timeline.register()
