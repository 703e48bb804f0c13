from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "amiable.cases"
    verbose_name = "Dossiers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.audit.personal import register_case_creditor
        from amiable.cases import timeline

        timeline.register()
        register_case_creditor(_case_creditor)


def _case_creditor(case_pk: int) -> int | None:
    """The creditor of a case, for the audit trail's key of personal data (`audit.personal`)."""
    from amiable.cases.models import Case

    return Case.objects.filter(pk=case_pk).values_list("creditor_id", flat=True).first()
