from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "amiable.compliance"
    verbose_name = "Conformité des documents aux débiteurs"
    default_auto_field = "django.db.models.BigAutoField"
