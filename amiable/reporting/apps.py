from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "amiable.reporting"
    verbose_name = "Rapports"
    default_auto_field = "django.db.models.BigAutoField"
