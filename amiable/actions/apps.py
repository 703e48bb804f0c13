from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "amiable.actions"
    verbose_name = "Actions de recouvrement"
    default_auto_field = "django.db.models.BigAutoField"
