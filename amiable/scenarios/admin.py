from django.contrib import admin

from amiable.audit.admin import AuditedAdminMixin
from amiable.scenarios.models import Scenario, ScenarioStep


class ScenarioStepInline(admin.TabularInline):
    model = ScenarioStep
    extra = 0
    fields = [
        "order",
        "delay_days",
        "action",
        "requires_email",
        "requires_phone",
        "min_balance",
        "max_balance",
        "skip_if_promise",
    ]


@admin.register(Scenario)
class ScenarioAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Agency admins edit each creditor's recovery scenario; `run_scenarios` runs it every day."""

    list_display = ["name", "creditor", "is_active"]
    list_filter = ["creditor"]
    inlines = [ScenarioStepInline]
