from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "amiable.payments"
    verbose_name = "Paiements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.payments import timeline

        timeline.register()

        # A creditor's statement request is answered at once with the statement (C34).
        from amiable.creditor_requests.hooks import register_statement_provider
        from amiable.payments.services_statement import statement_answer

        register_statement_provider(statement_answer)
