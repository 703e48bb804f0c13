from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "amiable.letters"
    verbose_name = "Courriers"
    default_auto_field = "django.db.models.BigAutoField"
