from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "amiable.payments"
    verbose_name = "Paiements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.approvals.hooks import on_decision
        from amiable.approvals.models import ApprovalKind
        from amiable.letters.amounts import register_paid_reader
        from amiable.letters.printables import register_printable
        from amiable.payments import plans, timeline
        from amiable.payments.receipts import receipts_mark_printed, receipts_to_post
        from amiable.payments.selectors import paid_by_component

        timeline.register()
        register_paid_reader(paid_by_component)
        # Receipts and plans not sent by e-mail are posted with the letters of the daily print run.
        register_printable(key="receipts", label="Reçus", pending=receipts_to_post, mark=receipts_mark_printed)
        register_printable(
            key="plans", label="Plans d'apurement", pending=plans.plans_to_post, mark=plans.plans_mark_printed
        )
        # A plan beyond the contract's limit waits for the creditor: its decision grants or refuses it (C16).
        on_decision(ApprovalKind.LONG_PLAN, plans.plan_decided)

        # A creditor's statement request is answered at once with the statement (C34).
        from amiable.creditor_requests.hooks import register_statement_provider
        from amiable.payments.services_statement import statement_answer

        register_statement_provider(statement_answer)
