from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "amiable.payments"
    verbose_name = "Paiements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.letters.printables import register_printable
        from amiable.payments import timeline
        from amiable.payments.receipts import receipts_mark_printed, receipts_to_post

        timeline.register()
        # Receipts not sent by e-mail are posted with the letters of the daily print run.
        register_printable(key="receipts", label="Reçus", pending=receipts_to_post, mark=receipts_mark_printed)
