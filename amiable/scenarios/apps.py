from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "amiable.scenarios"
    verbose_name = "Scénarios de recouvrement"
    default_auto_field = "django.db.models.BigAutoField"
