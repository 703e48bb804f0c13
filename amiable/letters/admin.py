from django.contrib import admin

from amiable.audit.admin import AuditedAdminMixin
from amiable.core.exceptions import ApplicationError
from amiable.letters.models import LetterTemplate
from amiable.letters.services import template_check


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
