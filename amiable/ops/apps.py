from django.apps import AppConfig, apps


class OpsConfig(AppConfig):
    name = "amiable.ops"
    verbose_name = "Exploitation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        """The administration in French: the third-party apps' names are not translatable strings, and the
        task results have no `__str__` (« DBTaskResult object (…) »). Their field labels are translated
        in amiable/locale (django.po)."""
        from django_tasks_db.models import DBTaskResult

        apps.get_app_config("axes").verbose_name = "Sécurité des connexions"
        apps.get_app_config("django_tasks_database").verbose_name = "Tâches de fond"
        DBTaskResult.__str__ = _task_result_str


def _task_result_str(result) -> str:
    return f"Tâche {result.task_name} du {result.enqueued_at:%d/%m/%Y %H:%M}" if result.enqueued_at else "Tâche"
