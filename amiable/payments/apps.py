from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "amiable.payments"
    verbose_name = "Paiements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.approvals.hooks import on_decision
        from amiable.approvals.models import ApprovalKind
        from amiable.payments import plans, timeline

        timeline.register()
        # A plan beyond the contract's limit waits for the creditor: its decision grants or refuses it (C16).
        on_decision(ApprovalKind.LONG_PLAN, plans.plan_decided)
