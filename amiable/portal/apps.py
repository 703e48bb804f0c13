from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "amiable.portal"
    verbose_name = "Interface collaborative"
    default_auto_field = "django.db.models.BigAutoField"
