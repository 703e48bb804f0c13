from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "amiable.payments"
    verbose_name = "Paiements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.letters.amounts import register_paid_reader
        from amiable.payments import timeline
        from amiable.payments.selectors import paid_by_component

        timeline.register()
        register_paid_reader(paid_by_component)
