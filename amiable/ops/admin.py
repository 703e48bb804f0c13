"""The task results in the administration with French column labels (django-tasks ships none)."""

from django.contrib import admin
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult


class FrenchTaskResultAdmin(DBTaskResultAdmin):
    list_display = ("__str__", "status", "enqueued_at", "started_at", "finished_at", "priority", "queue_name")

    @admin.display(description="trace de l'erreur")
    def formatted_traceback(self, obj):
        return super().formatted_traceback(obj)

    @admin.display(description="à exécuter après")
    def display_run_after(self, obj):
        return super().display_run_after(obj)


admin.site.unregister(DBTaskResult)
admin.site.register(DBTaskResult, FrenchTaskResultAdmin)
