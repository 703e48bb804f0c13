from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "amiable.accounts"
    verbose_name = "Comptes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.accounts import (
            signals,  # noqa: F401  (connects the audit receivers)
            timeline,
        )

        timeline.register()
