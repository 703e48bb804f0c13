from django.contrib import admin

from amiable.actions.letters import template_check
from amiable.actions.models import LetterTemplate, Scenario, ScenarioStep
from amiable.audit.admin import AuditedAdminMixin
from amiable.core.exceptions import ApplicationError


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


@admin.register(LetterTemplate)
class LetterTemplateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Letter wording per creditor; refused when it breaks the law (L3, L7)."""

    audit_prefix = "letter_template"
    list_display = ["name", "kind", "creditor", "is_active", "updated_at"]
    list_filter = ["creditor", "kind"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        def clean_body(form_self):
            body = form_self.cleaned_data["body"]
            try:
                template_check(body=body, kind=form_self.cleaned_data.get("kind", ""))
            except ApplicationError as exc:
                from django.core.exceptions import ValidationError

                raise ValidationError(exc.message) from exc
            return body

        form.clean_body = clean_body
        return form
