from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "amiable.payments"
    verbose_name = "Paiements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.payments import timeline

        timeline.register()
