from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "amiable.web"
    verbose_name = "Interface"
    default_auto_field = "django.db.models.BigAutoField"
