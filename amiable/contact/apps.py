from django.apps import AppConfig


class ContactConfig(AppConfig):
    name = "amiable.contact"
    verbose_name = "Appels, e-mails et SMS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.contact import timeline

        timeline.register()
