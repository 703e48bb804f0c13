from django.apps import AppConfig


class CreditorRequestsConfig(AppConfig):
    name = "amiable.creditor_requests"
    verbose_name = "Demandes du créancier"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.creditor_requests import timeline

        timeline.register()
