from django.apps import AppConfig


class RemittancesConfig(AppConfig):
    name = "amiable.remittances"
    verbose_name = "Reversements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.banking.hooks import register_remittance_hooks
        from amiable.payments.statement import register_remittance_reader
        from amiable.remittances import timeline
        from amiable.remittances.matching import remittance_debits_match, remittances_outgoing
        from amiable.remittances.selectors import remitted_lines_of_case

        timeline.register()
        # The case's financial statement shows what was remitted of it (the payments app sits below this one).
        register_remittance_reader(remitted_lines_of_case)
        # The bank statements' debits are matched to the remittances they paid (banking sits below this app).
        register_remittance_hooks(matcher=remittance_debits_match, outgoing=remittances_outgoing)
