from django.apps import AppConfig


class RemittancesConfig(AppConfig):
    name = "amiable.remittances"
    verbose_name = "Reversements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.payments.statement import register_remittance_reader
        from amiable.remittances import timeline
        from amiable.remittances.selectors import remitted_lines_of_case

        timeline.register()
        # The case's financial statement shows what was remitted of it (the payments app sits below this one).
        register_remittance_reader(remitted_lines_of_case)
